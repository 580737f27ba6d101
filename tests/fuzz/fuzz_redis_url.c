/* libFuzzer target for the redis:// URL parser: the URL comes from a command line or a script, and
 * rconn_url_parse must accept or reject any bytes without reading past them. What it accepts must
 * be a usable address (a non-empty host, a port in 1..65535, a database in 0..15), and writing it
 * back as a URL and parsing that must give the same address. */
#include "dist/rconn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rconn_url_t u, again;
    char err[RCONN_ERR_LEN], text[1024];
    if (rconn_url_parse((const char *)data, size, &u, err, sizeof(err)) < 0) {
        if (!memchr(err, '\0', sizeof(err))) abort();
        return 0;
    }
    if (!u.host[0] || u.port < 1 || u.port > 65535 || u.db < 0 || u.db > 15) abort();
    if (!memchr(u.host, '\0', sizeof(u.host)) || !memchr(u.pass, '\0', sizeof(u.pass))) abort();
    int v6 = strchr(u.host, ':') != NULL;
    int n = snprintf(text, sizeof(text), "redis://%s%s%s%s%s%s:%d/%d", u.user, u.pass[0] || u.user[0] ? ":" : "",
                     u.pass, u.pass[0] || u.user[0] ? "@" : "", v6 ? "[" : "", u.host, u.port, u.db);
    if (v6) { /* put the closing bracket after the host */
        char *colon = strrchr(text, ':');
        memmove(colon + 1, colon, strlen(colon) + 1);
        *colon = ']';
        n++;
    }
    if (rconn_url_parse(text, (size_t)n, &again, err, sizeof(err)) < 0 || memcmp(&u, &again, sizeof(u)) != 0) {
        /* A password holding '@' or ':' does not survive the round trip unescaped; skip those. */
        if (!strpbrk(u.pass, "@:/") && !strpbrk(u.user, "@:/")) abort();
    }
    return 0;
}
