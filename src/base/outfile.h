/* Output files that a failed run never damages: the text goes to a temporary file in the target's
 * directory (".NAME.XXXXXX"), which replaces the target in one rename() only when it is complete.
 * Until then the user's file, if there is one, is untouched; on failure the temporary file is
 * removed. The same directory, so that the rename is atomic (one file system).
 *
 * Conventions: 0 / -1 (or NULL) with "what: why" in err. */
#ifndef CRAWLBENCH_OUTFILE_H
#define CRAWLBENCH_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct outfile outfile_t; /* opaque */

/* Creates the temporary file for path. Its mode will be the target's if it exists, else 0666 less
 * the umask, as fopen(path, "w") would have made it. */
outfile_t *outfile_open(const char *path, char *err, size_t errlen);
/* Where to write. */
FILE *outfile_stream(outfile_t *o);
/* Flushes and closes the temporary file and renames it over path; on any failure removes it
 * instead. Frees o either way. */
int outfile_commit(outfile_t *o, char *err, size_t errlen);
/* Removes the temporary file and frees o; the target stays as it was. NULL is a no-op. */
void outfile_abort(outfile_t *o);

/* The whole cycle for a file written in one go: fill (0, or -1 with errno) writes the content. */
int outfile_write(const char *path, int (*fill)(FILE *f, void *ctx), void *ctx, char *err, size_t errlen);

#endif
