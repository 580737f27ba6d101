/* Raising the open-file limit (see fdlimit.h). */
#include "base/fdlimit.h"

#include <sys/resource.h>

uint64_t fdlimit_raise(uint64_t want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    rlim_t target = want ? (rlim_t)want : rl.rlim_max;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) target = rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
        struct rlimit up = {.rlim_cur = target, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl.rlim_cur = target;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FDLIMIT_CAP ? FDLIMIT_CAP : (uint64_t)rl.rlim_cur;
}
