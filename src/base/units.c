/* Numbers and durations from text (see units.h). */
#include "base/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int units_number(const char *s, size_t len, double *out, size_t *used) {
    char buf[64];
    size_t digits = 0, dots = 0, n = 0;
    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len)) return -1;
    for (; n < len; n++) {
        if (s[n] >= '0' && s[n] <= '9') digits++;
        else if (s[n] == '.' && !dots) dots++;
        else break;
    }
    if (!digits) return -1;
    memcpy(buf, s, n); /* strtod needs a terminated string, and must not read past the slice */
    buf[n] = '\0';
    char *end;
    *out = strtod(buf, &end);
    if (end != buf + n) return -1;
    *used = n;
    return 0;
}

int units_duration_parse(const char *s, size_t len, uint64_t *us, char *err, size_t errlen) {
    double v, scale;
    size_t n;
    int shown = (int)(len > 40 ? 40 : len);
    if (units_number(s, len, &v, &n) < 0) goto bad;
    const char *unit = s + n;
    size_t ulen = len - n;
    if (ulen == 0 || (ulen == 2 && !memcmp(unit, "ms", 2))) scale = 1e3;
    else if (ulen == 2 && !memcmp(unit, "us", 2)) scale = 1;
    else if (ulen == 1 && unit[0] == 's') scale = 1e6;
    else goto bad;
    v *= scale;
    if (v > UNITS_MAX_DURATION_US) {
        snprintf(err, errlen, "duration '%.*s' is longer than 600s", shown, s);
        return -1;
    }
    *us = (uint64_t)(v + 0.5);
    return 0;
bad:
    snprintf(err, errlen, "bad duration '%.*s' (expected e.g. 50ms, 250us, 1.5s)", shown, s);
    return -1;
}
