#!/usr/bin/env bash
# The distributed crawl's benchmark (docs/BENCHMARKS.md, section "Distributed crawl on Redis"):
#   a) --latency 50ms, 10,000-page graph: pages/s of the distributed model with 1, 2 and 4 worker
#      processes (THREADS threads each), against the single-process epoll and async models with the
#      same number of transfers in flight, on the same server run, and the threads model (the
#      workers' own concurrency model, in one process); Redis round trips per page.
#   b) the same crawl with the workers in separate network namespaces (veth pairs to a bridge in
#      the root namespace, where Redis and the server run), tc netem adding RTT_MS of round trip
#      on each worker's link: what crossing a network costs per page. Needs root; skipped without.
#      A kernel without sch_netem gets the round trip from bench/delayrelay.c instead: the workers
#      reach Redis through a TCP relay that holds each chunk RTT_MS/2 each way (Redis only; the
#      demo server's traffic is not delayed then).
# The server runs with --threads 1 pinned to CPU 0; Redis, workers and crawlers are pinned to
# CPU 1. Each row runs REPS times, alternating, and reports median [min..max]. Raw output goes to
# $CRAWLBENCH_DIST_DIR (default /tmp/crawlbench-dist), the summary to summary.txt there. Every
# process this script starts is stopped by its PID; the namespaces it creates are deleted at exit.
#
# usage: bench/distributed.sh [--quick] [--section a|b[,...]]...
#   --quick    a 2,000-page graph, one repetition: a smoke test of the script, not a measurement
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
bench_options "a b" "$@"

if [ "$QUICK" -eq 1 ]; then REPS=1 PAGES=2000; else REPS=3 PAGES=10000; fi
THREADS=32        # threads (pages in flight) per worker; local models get workers x THREADS
WORKER_MODEL=threads  # the workers' --model; the epoll rows of section a set it per row
LATENCY=50ms
RTT_MS=1          # section b: added round trip between a worker and Redis (0.5 ms each way)
SEED=42
OUT=${CRAWLBENCH_DIST_DIR:-/tmp/crawlbench-dist}
BIN=$OUT/crawlbench
SUMMARY=$OUT/summary.txt
NETNS=()
NETEM="${RTT_MS} ms"

die() { echo "bench/distributed.sh: $*" >&2; exit 1; }
mkdir -p "$OUT" || die "cannot create $OUT"
make -s -j2 all >/dev/null || die "build failed"
cp build/release/crawlbench "$BIN" || die "cannot copy the binary"
command -v redis-server >/dev/null || die "redis-server is missing (scripts/deps.sh bench)"
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

rcli() { redis-cli -h "${BIND:-127.0.0.1}" -p "$REDIS_PORT" -a "$REDIS_PASS" --no-auth-warning "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- the server and Redis, started once ----

start_server() {
  taskset -c 0 "$BIN" serve --port 0 --threads 1 --seed "$SEED" --pages "$PAGES" --latency "$LATENCY" \
    --host "${BIND:-127.0.0.1}" >"$OUT/serve.out" 2>"$OUT/serve.err" &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  for _ in $(seq 100); do grep -q listening "$OUT/serve.out" && break; sleep 0.1; done
  URL=$(sed -n 's|^listening on \(http://[^ ]*\)/$|\1|p' "$OUT/serve.out")
  [ -n "$URL" ] || die "the server did not start: $(cat "$OUT/serve.err")"
}
start_redis() {
  REDIS_PORT=$(free_port)
  rm -rf "$OUT/redis" && mkdir -p "$OUT/redis"
  REDIS_PASS=bench$RANDOM$RANDOM  # a password: Redis serves other hosts (namespaces) only with one
  taskset -c 1 redis-server --port "$REDIS_PORT" --bind "${BIND:-127.0.0.1}" --dir "$OUT/redis" \
    --appendonly yes --save '' --logfile redis.log --requirepass "$REDIS_PASS" &
  REDIS_PID=$!
  STARTED+=("$REDIS_PID")
  REDIS="redis://:$REDIS_PASS@${BIND:-127.0.0.1}:$REDIS_PORT"
  for _ in $(seq 100); do rcli ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
}

# ---- one crawl ----

# A local model: prints "pages/s pages".
local_crawl() { # model concurrency
  bounded taskset -c 1 "$BIN" crawl "$URL" -m "$1" -c "$2" --start "$START" --json --no-progress \
    >"$OUT/local.json" 2>>"$OUT/local.err" || { echo "0 0"; return; }
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print(r["pages_per_s"], r["pages"])' "$OUT/local.json"
}
# The distributed model with N workers (each in namespace NS_i when $NS_PREFIX is set): prints
# "pages/s pages commands/page".
dist_crawl() { # workers
  local id="bench-$RANDOM$RANDOM" i pids=() ns
  taskset -c 1 "$BIN" crawl "$URL" -m distributed --redis "$REDIS" --crawl-id "$id" --start "$START" \
    --json >"$OUT/dist.json" 2>>"$OUT/dist.err" &
  local coord=$!
  STARTED+=("$coord")
  until "$BIN" crawl --redis "$REDIS" --status "$id" >/dev/null 2>&1; do
    kill -0 "$coord" 2>/dev/null || break  # it failed: its error is in dist.err
    sleep 0.02
  done
  for i in $(seq "$1"); do
    ns=()
    [ -n "${NS_PREFIX:-}" ] && ns=(ip netns exec "$NS_PREFIX$i")
    "${ns[@]}" taskset -c 1 "$BIN" worker --redis "${WORKER_REDIS:-$REDIS}" --crawl-id "$id" -c "$THREADS" \
      -m "$WORKER_MODEL" 2>>"$OUT/worker.err" &
    pids+=($!)
    STARTED+=($!)
  done
  wait "$coord"
  local rc=$?
  forget "$coord"
  for i in "${pids[@]}"; do wait "$i"; forget "$i"; done
  rcli --scan --pattern "crawlbench:{$id}:*" | while read -r k; do rcli del "$k" >/dev/null; done
  [ $rc -eq 0 ] || { echo "0 0 0"; return; }
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1]));
print(r["pages_per_s"], r["pages"], r["distributed"]["redis_round_trips_per_page"])' "$OUT/dist.json"
}

# median [min..max] of the first field of each line on stdin
stats() { sort -g | awk '{v[NR] = $1} END {printf "%.0f [%.0f..%.0f]", v[int((NR + 1) / 2)], v[1], v[NR]}'; }

# Runs every row REPS times, alternating; prints one summary line a row.
series() { # title; rows are "label:command ..." in ROWS
  local r row label
  declare -A got
  for r in $(seq "$REPS"); do
    for row in "${ROWS[@]}"; do
      label=${row%%:*}
      got[$label]+="$(eval "${row#*:}")"$'\n'
    done
  done
  say ""
  say "$1"
  for row in "${ROWS[@]}"; do
    label=${row%%:*}
    local rate pages extra
    rate=$(printf '%s' "${got[$label]}" | awk 'NF' | stats)
    pages=$(printf '%s' "${got[$label]}" | awk 'NF {print $2}' | sort -u | tr '\n' ' ')
    extra=$(printf '%s' "${got[$label]}" | awk 'NF > 2 {print $3}' | sort -g | sed -n 1p)
    say "$(printf '  %-28s %-24s pages/s  (pages: %s%s)' "$label" "$rate" "$pages" "${extra:+; Redis round trips/page $extra}")"
  done
}

# ---- section a: 1, 2, 4 workers against epoll and async ----

start_server
start_redis
START=$(curl -s "$URL/graph/random" | sed 's/.*"page_id": *"\([^"]*\)".*/\1/')
say "graph: $PAGES pages, seed $SEED, start $START, latency $LATENCY; $THREADS threads per worker; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

if want a; then
  ROWS=()
  for n in 1 2 4; do
    c=$((n * THREADS))
    ROWS+=("distributed ${n}x$THREADS:dist_crawl $n" "distributed epoll ${n}x$THREADS:WORKER_MODEL=epoll dist_crawl $n"
           "epoll -c $c:local_crawl epoll $c" "async -c $c:local_crawl async $c" "threads -c $c:local_crawl threads $c")
  done
  series "a) --latency $LATENCY, $PAGES pages: pages/s, median [min..max] of $REPS"
fi

# ---- section b: workers in network namespaces, netem on their links ----

ns_setup() { # n: namespaces crawlbench-w1..n, each with a veth to bridge cbr0 (10.77.0.1/24)
  ip link add cbr0 type bridge && ip addr add 10.77.0.1/24 dev cbr0 && ip link set cbr0 up || return 1
  NETNS+=(cbr0)
  local i
  for i in $(seq "$1"); do
    ip netns add "crawlbench-w$i" && NETNS+=("ns:crawlbench-w$i") || return 1
    ip link add "cbv$i" type veth peer name eth0 netns "crawlbench-w$i" || return 1
    ip link set "cbv$i" master cbr0 up
    ip -n "crawlbench-w$i" addr add "10.77.0.$((i + 10))/24" dev eth0
    ip -n "crawlbench-w$i" link set eth0 up
    ip -n "crawlbench-w$i" link set lo up
    # half the round trip on each side of the link; a kernel without sch_netem gets plain veth links
    tc qdisc add dev "cbv$i" root netem delay "$(awk -v r="$RTT_MS" 'BEGIN {print r / 2}')ms" 2>/dev/null &&
      ip netns exec "crawlbench-w$i" tc qdisc add dev eth0 root netem delay "$(awk -v r="$RTT_MS" 'BEGIN {print r / 2}')ms" ||
      NETEM="none (this kernel has no sch_netem)"
  done
}
# The user-space round trip: bench/delayrelay.c between the workers and Redis (sets WORKER_REDIS).
start_relay() {
  mkdir -p build/bench
  ${CC:-cc} -std=gnu17 -O2 -g -Wall -Wextra -Werror -Wshadow -o build/bench/delayrelay bench/delayrelay.c ||
    die "cannot build bench/delayrelay.c"
  taskset -c 1 build/bench/delayrelay "$BIND:0" "$BIND:$REDIS_PORT" "$(awk -v r="$RTT_MS" 'BEGIN {printf "%d", r * 1000}')" >"$OUT/relay.out" \
    2>"$OUT/relay.err" &
  STARTED+=($!)
  for _ in $(seq 100); do grep -q listening "$OUT/relay.out" && break; sleep 0.1; done
  WORKER_REDIS_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$OUT/relay.out")
  [ -n "$WORKER_REDIS_PORT" ] || die "the relay did not start: $(cat "$OUT/relay.err")"
  WORKER_REDIS="redis://:$REDIS_PASS@$BIND:$WORKER_REDIS_PORT"
}
ns_cleanup() {
  local n
  for n in "${NETNS[@]}"; do
    case "$n" in ns:*) ip netns del "${n#ns:}" 2>/dev/null ;; *) ip link del "$n" 2>/dev/null ;; esac
  done
}
trap 'cleanup; ns_cleanup' EXIT

if want b; then
  if [ "$(id -u)" -ne 0 ] || ! ns_setup 4 2>"$OUT/netns.err"; then
    say ""
    say "b) skipped: network namespaces need root and ip/tc ($(head -1 "$OUT/netns.err" 2>/dev/null))"
  else
    stop_pid "$REDIS_PID"
    stop_pid "$SERVER_PID"
    BIND=10.77.0.1
    start_server
    start_redis
    # A Redis round trip from a worker's namespace (through the relay, if any), and from the root
    # one, straight to Redis: 2,000 PINGs each, in ms.
    rtt() { # port [command prefix]
      local t0 t1 port=$1
      shift
      t0=$(date +%s%N)
      "$@" redis-cli -h "$BIND" -p "$port" -a "$REDIS_PASS" --no-auth-warning -r 2000 ping >/dev/null
      t1=$(date +%s%N)
      awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 2000 / 1e6}'
    }
    case "$NETEM" in none*) start_relay && NETEM="none (no sch_netem); bench/delayrelay.c adds $RTT_MS ms to Redis" ;; esac
    ping_ms="$(rtt "${WORKER_REDIS_PORT:-$REDIS_PORT}" ip netns exec crawlbench-w1) ms from a worker's namespace, $(rtt "$REDIS_PORT") ms from the root namespace"
    say ""
    say "b) workers in network namespaces over veth and a bridge; netem round trip added: $NETEM (a Redis PING: $ping_ms)"
    ROWS=()
    for n in 1 2 4; do ROWS+=("netns distributed ${n}x$THREADS:NS_PREFIX=crawlbench-w dist_crawl $n"); done
    NS_PREFIX=""
    series "   pages/s, median [min..max] of $REPS"
  fi
fi
say ""
say "raw output: $OUT"
