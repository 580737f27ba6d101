/* A Redis connection for the distributed crawl: redis:// URLs, connect with a timeout, AUTH and
 * SELECT, one command per round trip or several pipelined, Lua scripts by SHA1 (re-loaded when Redis
 * answers NOSCRIPT, as after a restart), and reconnection with backoff when the link drops.
 *
 * Conventions: functions return 0 / a reply, or -1 / NULL with "what: why" in err (RCONN_ERR_LEN).
 * A reply is the caller's to free with freeReplyObject(). Not thread-safe: one rconn per thread. */
#ifndef CRAWLBENCH_RCONN_H
#define CRAWLBENCH_RCONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define RCONN_ERR_LEN 256

typedef struct rconn_url {
    char host[256];
    int port;
    int db;
    char user[128]; /* empty: AUTH with the password only */
    char pass[256]; /* empty: no AUTH */
} rconn_url_t;

/* Parses redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (port 6379, db 0 by default; HOST a name,
 * an IPv4 address or a bracketed IPv6 one). Untrusted input: bounded, never reads past s[len].
 * Returns 0, or -1 with the reason in err. */
int rconn_url_parse(const char *s, size_t len, rconn_url_t *u, char *err, size_t errlen);

typedef struct rconn rconn_t;

/* Connects, authenticates and selects the database, once: an unreachable server, a wrong password
 * or a server that needs one is an error at once. retry_us is how long later commands keep trying
 * to reconnect (with backoff) when the connection drops, as when Redis restarts. */
rconn_t *rconn_open(const rconn_url_t *u, uint64_t retry_us, char *err, size_t errlen);
void rconn_close(rconn_t *c);

/* Sends one command and returns its reply. A dropped connection is re-established (with backoff,
 * for up to the retry time given to rconn_open) and the command sent again once: callers only send
 * commands whose repetition is harmless. An error reply is returned as NULL with its text in err. */
redisReply *rconn_argv(rconn_t *c, int argc, const char **argv, const size_t *lens, char *err);
/* The same for NUL-terminated arguments. */
redisReply *rconn_cmd(rconn_t *c, char *err, int argc, ...);

/* A Lua script: source, and the SHA1 Redis gave it (filled on first use). One per script and
 * thread, or shared read-only after a first load. */
typedef struct rconn_script {
    const char *src;
    char sha[41];
} rconn_script_t;

/* EVALSHA with argv = keys then args; loads the script on NOSCRIPT and tries once more. */
redisReply *rconn_eval(rconn_t *c, rconn_script_t *s, int nkeys, int argc, const char **argv, const size_t *lens,
                       char *err);

/* One command of a pipeline: a plain command (script NULL: argv is the command) or a script call
 * (argv = keys then args, as rconn_eval). lens NULL: NUL-terminated arguments. */
typedef struct rconn_call {
    rconn_script_t *script;
    int nkeys, argc;
    const char **argv;
    const size_t *lens;
} rconn_call_t;

#define RCONN_PIPE_MAX 8

/* The command line of a call (EVALSHA SHA NKEYS ... for a script, whose SHA must be known): argv
 * and its lengths in one malloc'ed block (free the return value only), *argc set, nk the key
 * count's digits. NULL when out of memory. For the async worker, which sends calls itself. */
const char **rconn_call_argv(const rconn_call_t *k, int *argc, size_t **al, char nk[16]);
/* SCRIPT LOAD: fills s->sha. 0, or -1 with err. */
int rconn_script_load(rconn_t *c, rconn_script_t *s, char *err);

/* Pipelining: writes n (at most RCONN_PIPE_MAX) commands at once and reads their n replies, one
 * round trip for all. Redis runs them in order, so a worker sends the ack of one page and the read
 * of the next together. A dropped connection is re-established and the whole batch sent again once
 * (as rconn_argv: only commands whose repetition is harmless); a script that meets NOSCRIPT is
 * loaded and sent again on its own. Returns 0 with every reply in rep[0..n), or -1 with err (an
 * error reply included) and no replies. */
int rconn_pipe(rconn_t *c, int n, const rconn_call_t *calls, redisReply **rep, char *err);

/* Commands sent, round trips made (a pipeline is one) and reconnections since the connection
 * opened. */
uint64_t rconn_commands(const rconn_t *c);
uint64_t rconn_round_trips(const rconn_t *c);
uint64_t rconn_reconnects(const rconn_t *c);

#endif
