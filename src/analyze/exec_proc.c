/* The processes model of src/analyze/exec.h: fork after loading, so the graph is shared
 * copy-on-write and never copied or pickled, and results come back through the MAP_SHARED memory of
 * exec_alloc(). Each child talks to its parent over one socketpair: the parent sends a job run as
 * (fn, ctx), valid in the child because fork copied the address space; the child takes chunks of the
 * job from the shared exec__chunks_t until none is left and answers one byte. The children serve
 * every job until the parent closes their sockets. A child that dies closes its end, so the
 * parent's read returns 0 at once and the death is reported with the child's pid and signal, never
 * waited on forever. Sockets rather than pipes because send(MSG_NOSIGNAL) to a dead child fails
 * with EPIPE instead of killing the parent. */
#include "analyze/exec.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct exec_msg {
    exec_fn fn; /* NULL: exit */
    void *ctx;
} exec_msg_t;

struct exec__proc {
    unsigned workers;
    exec__chunks_t *ch;
    pid_t *pids; /* [workers]; pids[0] unused (the parent is worker 0) */
    int *fds;    /* the parent's end of each child's socket, -1 when closed */
};

/* A child's life: run what the parent sends until it sends NULL or goes away. _exit, not exit: the
 * child must not run the parent's atexit handlers or flush its stdio buffers a second time. */
static void exec_child(int fd, exec__chunks_t *ch) {
    exec_msg_t m;
    for (;;) {
        ssize_t n = recv(fd, &m, sizeof(m), MSG_WAITALL);
        if (n != (ssize_t)sizeof(m) || !m.fn) _exit(n == 0 || (n == (ssize_t)sizeof(m) && !m.fn) ? 0 : 3);
        exec__take(ch, m.fn, m.ctx);
        char ok = 1;
        if (send(fd, &ok, 1, MSG_NOSIGNAL) != 1) _exit(4);
    }
}

/* How a child ended, for the error message; reaps it. */
static void exec_describe_death(exec__proc_t *p, unsigned w, char *err) {
    int status = 0;
    pid_t pid = p->pids[w];
    if (waitpid(pid, &status, 0) != pid) {
        exec__errf(err, "processes: worker %u (pid %d) died", w, (int)pid);
    } else if (WIFSIGNALED(status)) {
        exec__errf(err, "processes: worker %u (pid %d) died: %s", w, (int)pid, strsignal(WTERMSIG(status)));
    } else {
        exec__errf(err, "processes: worker %u (pid %d) died: exit status %d", w, (int)pid, WEXITSTATUS(status));
    }
    p->pids[w] = 0;
}

exec__proc_t *exec__proc_begin(unsigned workers, exec__chunks_t *ch, char *err) {
    exec__proc_t *p = calloc(1, sizeof(*p));
    if (!p || !(p->pids = calloc(workers, sizeof(pid_t))) || !(p->fds = malloc(workers * sizeof(int)))) {
        if (p) free(p->pids);
        free(p);
        exec__errf(err, "processes: out of memory");
        return NULL;
    }
    *p = (exec__proc_t){workers, ch, p->pids, p->fds};
    for (unsigned w = 0; w < workers; w++) p->fds[w] = -1;
    for (unsigned w = 1; w < workers; w++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            exec__errf(err, "processes: socketpair: %s", strerror(errno));
            goto fail;
        }
        pid_t pid = fork();
        if (pid < 0) {
            exec__errf(err, "processes: fork: %s", strerror(errno));
            close(sv[0]);
            close(sv[1]);
            goto fail;
        }
        if (pid == 0) { /* the child keeps only its own end */
            for (unsigned k = 1; k < w; k++) close(p->fds[k]);
            close(sv[0]);
            exec_child(sv[1], ch);
        }
        close(sv[1]);
        p->fds[w] = sv[0];
        p->pids[w] = pid;
    }
    return p;
fail:
    exec__proc_end(p);
    return NULL;
}

int exec__proc_run(exec__proc_t *p, exec_fn fn, void *ctx, char *err) {
    exec_msg_t m = {fn, ctx};
    for (unsigned w = 1; w < p->workers; w++)
        if (send(p->fds[w], &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
            exec_describe_death(p, w, err);
            return -1;
        }
    exec__take(p->ch, fn, ctx);
    int rc = 0;
    for (unsigned w = 1; w < p->workers; w++) {
        char ok;
        ssize_t n;
        while ((n = recv(p->fds[w], &ok, 1, 0)) < 0 && errno == EINTR) {}
        if (n != 1 && rc == 0) {
            exec_describe_death(p, w, err);
            rc = -1;
        }
    }
    return rc;
}

/* Stops every child still alive: closing its socket makes its recv() return 0, and it exits. A child
 * that died was reported by the run that found it (exec_describe_death() reaped it); between runs a
 * child only waits in recv(), so how the others exit has nothing left to report. */
void exec__proc_end(exec__proc_t *p) {
    for (unsigned w = 1; w < p->workers; w++)
        if (p->fds[w] >= 0) close(p->fds[w]);
    for (unsigned w = 1; w < p->workers; w++)
        if (p->pids[w] > 0)
            while (waitpid(p->pids[w], NULL, 0) < 0 && errno == EINTR) {}
    free(p->pids);
    free(p->fds);
    free(p);
}
