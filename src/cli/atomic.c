/* Writing a user's file so that a failed run never truncates or removes it: the content goes to a
 * temporary file in the same directory (same filesystem, so rename is atomic), renamed into place
 * only once it is complete. Shared by the subcommands that write files (analyze --ranks, graph
 * --edges). */
#include "cli/cli.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_write_atomic(const char *path, int (*write)(FILE *f, void *ctx), void *ctx, char *err) {
    char dir_buf[PATH_MAX], base_buf[PATH_MAX], tmp[PATH_MAX];
    snprintf(dir_buf, sizeof(dir_buf), "%s", path);
    snprintf(base_buf, sizeof(base_buf), "%s", path);
    if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir_buf), basename(base_buf)) >= (int)sizeof(tmp)) {
        snprintf(err, 256, "%s: path too long", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, 256, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, 256, "%s: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    int ok = fchmod(fd, 0666 & ~mask) == 0 && write(f, ctx) == 0 && fflush(f) == 0 && !ferror(f);
    int saved = errno;
    if (fclose(f) != 0 && ok) ok = 0, saved = errno;
    if (!ok) {
        snprintf(err, 256, "%s: cannot write: %s", path, strerror(saved));
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, 256, "%s: cannot rename the temporary file into place: %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    unlink(tmp);
    return -1;
}
