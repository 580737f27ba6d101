/* The open-file limit: a server with 10,000 clients and a crawler with 1,000 sockets both need more
 * than the usual soft limit of 1,024. One helper raises it, the same way for everyone. */
#ifndef CRAWLBENCH_FDLIMIT_H
#define CRAWLBENCH_FDLIMIT_H

#include <stdint.h>

#define FDLIMIT_CAP (1u << 20) /* the most any caller gets reported: fd-indexed tables stay sane */

/* Raises the soft RLIMIT_NOFILE toward want (0: as far as the hard limit allows), never lowering
 * it, and returns the limit now in force, capped at FDLIMIT_CAP. Needs no privilege: only the soft
 * limit moves, and only up to the hard one. */
uint64_t fdlimit_raise(uint64_t want);

#endif
