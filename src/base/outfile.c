/* Write-then-rename output files (see outfile.h). */
#include "base/outfile.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct outfile {
    FILE *f;
    char path[PATH_MAX], tmp[PATH_MAX];
};

/* The mode a plain fopen(path, "w") would give a new file, or the existing file's own mode. */
static mode_t target_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) return st.st_mode & 07777;
    mode_t mask = umask(0); /* umask can only be read by setting it: put it straight back */
    umask(mask);
    return 0666 & ~mask;
}

outfile_t *outfile_open(const char *path, char *err, size_t errlen) {
    outfile_t *o = calloc(1, sizeof(*o));
    char dir[PATH_MAX], base[PATH_MAX];
    int fd = -1;
    if (!o) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (snprintf(o->path, sizeof(o->path), "%s", path) >= (int)sizeof(o->path)) {
        snprintf(err, errlen, "%.64s...: path too long", path);
        goto fail;
    }
    snprintf(dir, sizeof(dir), "%s", path); /* dirname and basename may modify their argument */
    snprintf(base, sizeof(base), "%s", path);
    if (snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.XXXXXX", dirname(dir), basename(base)) >= (int)sizeof(o->tmp)) {
        snprintf(err, errlen, "%.64s...: path too long", path);
        goto fail;
    }
    if ((fd = mkstemp(o->tmp)) < 0 || fchmod(fd, target_mode(path)) < 0 || !(o->f = fdopen(fd, "w"))) {
        snprintf(err, errlen, "cannot write %s: cannot create a temporary file beside it: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        goto fail;
    }
    return o;
fail:
    free(o);
    return NULL;
}

FILE *outfile_stream(outfile_t *o) { return o->f; }

int outfile_commit(outfile_t *o, char *err, size_t errlen) {
    int failed = ferror(o->f);
    if (fclose(o->f) != 0 || failed) {
        snprintf(err, errlen, "cannot write %s: %s", o->path, failed ? "write error" : strerror(errno));
        goto fail;
    }
    if (rename(o->tmp, o->path) < 0) {
        snprintf(err, errlen, "cannot replace %s: %s", o->path, strerror(errno));
        goto fail;
    }
    free(o);
    return 0;
fail:
    unlink(o->tmp);
    free(o);
    return -1;
}

void outfile_abort(outfile_t *o) {
    if (!o) return;
    fclose(o->f);
    unlink(o->tmp);
    free(o);
}

int outfile_write(const char *path, int (*fill)(FILE *f, void *ctx), void *ctx, char *err, size_t errlen) {
    outfile_t *o = outfile_open(path, err, errlen);
    if (!o) return -1;
    if (fill(o->f, ctx) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        outfile_abort(o);
        return -1;
    }
    return outfile_commit(o, err, errlen);
}
