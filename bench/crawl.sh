#!/usr/bin/env bash
# crawlbench's crawler benchmark (docs/BENCHMARKS.md, section "Crawlers", explains every number):
#   x) zero latency, 200,000-page graph: wrk's requests/s against every model's pages/s;
#   y) --latency 50ms, 10,000-page graph, every model at -c 1000: crawl time against its ideal (the
#      server's own times), p50/p99, and the peak memory of 10,000 green threads; BEFORE_BIN=path
#      runs an earlier build in the same rounds for a before/after table;
#   z) the guide's Python crawlers (bench/guide_crawlers.py) against the C models, same server,
#      same graph, same start page, at zero latency and at 50 ms.
# The server always runs with --threads 1 pinned to CPU 0; every client (wrk, crawlbench crawl,
# python3) is pinned to CPU 1. Each series runs every client in turn, REPS times (alternating), and
# reports median [min..max]. Raw output goes to $CRAWLBENCH_CRAWL_DIR (default /tmp/crawlbench-crawl);
# the summary is printed and kept there as summary.txt. Every load is bounded in time and sent to
# 127.0.0.1 only; every process this script starts is stopped by its PID when it exits.
#
# usage: bench/crawl.sh [--quick] [--section x|y|z[,...]]...
#   --quick    smaller graphs, one repetition: a smoke test of the script (~1 min), not a measurement
# shellcheck disable=SC2046  # $(vals ...) is a list of numbers, split on purpose
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# ---- options ----

. bench/lib.sh  # (from the repository root) options, stop_pid, bounded, children_cpu, machine_ticks, the cleanup trap
bench_options "x y z" "$@"

# X_PAGES: graph of section x. YZ_PAGES: graph of y and z. SEQ_CAP_50: pages the sequential
# model fetches at 50 ms in y (500 s for the whole graph otherwise). CAP_50: the page cap for every
# crawler in z's 50 ms comparison (the guide's sequential crawler would need ~8 min uncapped).
# REPS: runs per row (Y_REPS in y, whose ratios are targets); TARGET_REPS: runs of wrk, epoll and
# async in x, whose ratios are targets.
# SEQ50_REPS: runs of the two sequential crawlers in z's 50 ms comparison (25 s each; their time is
# CAP_50 x the latency, the same to 1% from run to run). QUIET_WAIT: at most this many seconds in
# all spent waiting for a quiet machine before the CPU-bound runs (x, z at zero latency).
if [ "$QUICK" -eq 1 ]; then
  REPS=1 Y_REPS=1 TARGET_REPS=1 SEQ50_REPS=1 X_PAGES=20000 YZ_PAGES=2000 WRK_DUR=2 SEQ_CAP_50=20 CAP_50=100
  GREEN_MANY=2000 QUIET_WAIT=5
else
  REPS=3 Y_REPS=5 TARGET_REPS=5 SEQ50_REPS=1 X_PAGES=200000 YZ_PAGES=10000 WRK_DUR=5 SEQ_CAP_50=100 CAP_50=500
  GREEN_MANY=10000 QUIET_WAIT=90
fi
CONC_X=64         # x: every model but sequential
CONC_Z=100        # z: the guide's threading and asyncio crawlers, and every C model but sequential
LATENCY_MS=50
CRAWL_LIMIT=180   # seconds any one crawl may take before it is killed and marked failed
QUIET=0           # 1 while measuring a CPU-bound series: each run first waits for a quiet machine

OUT=${CRAWLBENCH_CRAWL_DIR:-/tmp/crawlbench-crawl}
SRC_BIN=build/release/crawlbench
BIN=$OUT/crawlbench  # a copy: a rebuild during the run does not change what is measured
PY=/usr/bin/python3  # Debian's, with python3-requests and python3-aiohttp
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
SUMMARY=$OUT/summary.txt
MODELS=(epoll async sequential threads processes pool green nursery pipeline)

die() { echo "bench/crawl.sh: $*" >&2; exit 1; }


# ---- measuring helpers ----

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
# CPUs busy between two machine_ticks samples.
busy_cpus() { awk -v m0="$1" -v m1="$2" -v n="$NCPU" 'BEGIN {split(m0, a, " "); split(m1, b, " ");
  t = b[2] - a[2]; printf "%.2f", (t > 0 ? (b[1] - a[1]) / (t / n) : 0)}'; }
# Quiet-machine check before a CPU-bound run: waits, in 0.5 s looks, until the machine's other
# tenants use under 0.2 CPU (nothing of ours runs meanwhile but the idle server), for at most 5 s
# per run and QUIET_WAIT s in all. The run goes ahead either way; its record says how busy it was.
QUIET_SPENT=0
wait_quiet() {
  local m0 m1 tries=0
  while [ "$QUIET_SPENT" -lt $((QUIET_WAIT * 2)) ] && [ "$tries" -lt 10 ]; do
    m0=$(machine_ticks); sleep 0.5; m1=$(machine_ticks)
    awk -v b="$(busy_cpus "$m0" "$m1")" 'BEGIN {exit !(b < 0.2)}' && return 0
    tries=$((tries + 1)) QUIET_SPENT=$((QUIET_SPENT + 1))
  done
  return 0
}

# median min max of the numbers given
stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (!NR) {print "n/a n/a n/a"; exit}
  m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; print m, v[1], v[NR]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "n/a" && b != "n/a" && b > 0) printf "%.2f", a / b; else print "n/a"}'; }
say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# A value from a one-line JSON object (crawlbench's or guide_crawlers.py's): "key": value.
jget() { sed -n "s/.*\"$2\": *\"\{0,1\}\([^,}\"]*\).*/\1/p" "$1" | head -1; }

# HTTP to our own server only (127.0.0.1), with a time limit.
http() { curl -s --max-time 10 "$@"; }

# Starts the server on CPU 0 with one thread; sets SRV_PID, SRV_PORT, SRV_URL.
start_server() { # name args...
  local name=$1 i
  shift
  taskset -c 0 "$BIN" serve --port 0 --threads 1 "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
  SRV_PID=$!
  STARTED+=("$SRV_PID")
  for i in $(seq 3000); do
    SRV_PORT=$(sed -n 's#^listening on http://.*:\([0-9]*\)/$#\1#p' "$OUT/$name.out")
    [ -n "$SRV_PORT" ] && { SRV_URL=http://127.0.0.1:$SRV_PORT; return 0; }
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.01
  done
  cat "$OUT/$name.err" >&2
  die "crawlbench serve $* did not start"
}

# Runs one client on CPU 1 and appends one record to $OUT/<series>.rec:
#   label run rc wall client_cpu server_cpu other [fields of the client's JSON]
# The server's audit is reset before and read after, so "dup" is this run's duplicate fetches.
# Usage: measure series label run json_out command...
measure() {
  local series=$1 label=$2 run=$3 json=$4
  shift 4
  local t0 t1 m0 m1 c0 c1 w0 w1 rc audit
  http -X POST "$SRV_URL/graph/stats/reset" >/dev/null
  [ "$QUIET" -eq 1 ] && wait_quiet
  t0=$(cpu_ticks "$SRV_PID") || die "server gone before $label"
  m0=$(machine_ticks)
  children_cpu c0
  w0=$EPOCHREALTIME
  bounded timeout "$CRAWL_LIMIT" taskset -c 1 "$@" >"$json" 2>"${json%.*}.err"
  rc=$?
  w1=$EPOCHREALTIME
  children_cpu c1
  t1=$(cpu_ticks "$SRV_PID") || die "server died during $label"
  m1=$(machine_ticks)
  audit=$(http "$SRV_URL/graph/stats")
  awk -v label="$label" -v run="$run" -v rc="$rc" -v w0="${w0/,/.}" -v w1="${w1/,/.}" -v c0="$c0" -v c1="$c1" \
      -v t="$((t1 - t0))" -v hz="$HZ" -v m0="$m0" -v m1="$m1" -v n="$NCPU" \
      -v dup="$(sed -n 's/.*"duplicate_fetches":\([0-9]*\).*/\1/p' <<<"$audit")" \
      -v served="$(sed -n 's/.*"pages_served":\([0-9]*\).*/\1/p' <<<"$audit")" 'BEGIN {
        split(m0, a, " "); split(m1, b, " "); cli = c1 - c0; srv = t / hz;
        busy = (b[1] - a[1]) / hz; total = (b[2] - a[2]) / hz;
        other = total > 0 ? (busy - srv - cli) / (total / n) : 0; if (other < 0) other = 0;
        printf "label=%s run=%s rc=%s wall=%.3f ccpu=%.3f scpu=%.3f other=%.2f dup=%s served=%s",
               label, run, rc, w1 - w0, cli, srv, other, dup, served }' >>"$OUT/$series.rec"
  if [ "$rc" -ne 0 ]; then
    echo " error=client_exit_$rc" >>"$OUT/$series.rec"
    echo "  warning: $label run $run exited with $rc (see ${json%.*}.err)" >&2
    return 1
  fi
  echo >>"$OUT/$series.rec"
}

# One crawl by crawlbench; adds the JSON's fields to the record.
crawl() { # series label run model concurrency [extra crawl args...]
  local series=$1 label=$2 run=$3 model=$4 conc=$5 f
  shift 5
  f=$OUT/$series-$label-$run.json
  measure "$series" "$label" "$run" "$f" "${CRAWL_BIN:-$BIN}" crawl "$SRV_URL" -m "$model" -c "$conc" --start "$START" \
    --no-progress --json "$@" || return 0
  add_fields "$series" "$f" pages failed elapsed_s pages_per_s ideal_s over_ideal p50 p99 peak_in_flight peak_rss_kb
}
# One crawl by one of the guide's Python crawlers.
pycrawl() { # series label run crawler concurrency max_pages
  local f=$OUT/$1-$2-$3.json
  measure "$1" "$2" "$3" "$f" "$PY" bench/guide_crawlers.py "$4" "$SRV_URL" "$START" \
    --concurrency "$5" --max-pages "$6" || return 0
  add_fields "$1" "$f" pages elapsed_s cpu_s pages_per_s
}
# Appends key=value for each JSON key to the last record line of the series.
add_fields() { # series json keys...
  local series=$1 json=$2 k extra=""
  shift 2
  for k in "$@"; do extra+=" $k=$(jget "$json" "$k")"; done
  sed -i '$ s/$/'"$extra"'/' "$OUT/$series.rec"
}

# The values of one key over a label's successful runs.
vals() { # series label key
  awk -v l="$2" -v k="$3" '$1 == "label=" l && !/ error=/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$OUT/$1.rec"
}
# Per-run derived values: key1 / key2 * scale (e.g. client CPU microseconds per page).
vals_div() { # series label key1 key2 scale
  paste -d' ' <(vals "$1" "$2" "$3") <(vals "$1" "$2" "$4") | awk -v s="$5" '$2 > 0 {print $1 / $2 * s}'
}
# "median [min..max]" with the given printf format.
cell() { # format values...
  local f=$1 m lo hi
  shift
  read -r m lo hi <<<"$(stats "$@")"
  [ "$m" = n/a ] && { echo n/a; return; }
  awk -v f="$f" -v m="$m" -v lo="$lo" -v hi="$hi" 'BEGIN {printf f " [" f ".." f "]", m, lo, hi}'
}
median() { stats "$@" | cut -d' ' -f1; }
# "8955" when every run found the same count, else "8955..8960"; with " (n failed)" if any run failed.
count_cell() { # series label key
  local v
  read -r _ lo hi <<<"$(stats $(vals "$1" "$2" "$3"))"
  [ "$lo" = "$hi" ] && v=$lo || v="$lo..$hi"
  local bad
  bad=$(grep -c "^label=$2 .* error=" "$OUT/$1.rec")
  [ "$bad" -gt 0 ] && v+=" ($bad run(s) failed)"
  echo "$v"
}
other_load() { # series: median [min..max] of the other tenants' CPU use over all its runs
  cell '%.2f' $(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^other=/) {sub(/other=/, "", $i); print $i}}' "$OUT/$1.rec")
}

# ---- set-up ----

mkdir -p "$OUT" || die "cannot create $OUT"
: >"$SUMMARY"
rm -f "$OUT"/*.rec "$OUT"/*.json "$OUT"/*.err
[ -x "$SRC_BIN" ] || die "$SRC_BIN is missing: run 'make' first"
cp "$SRC_BIN" "$BIN" || die "cannot copy $SRC_BIN to $OUT"
for tool in wrk taskset curl; do command -v "$tool" >/dev/null || die "$tool is missing"; done
[ "$NCPU" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, clients on CPU 1); this machine has $NCPU"
if want z; then
  "$PY" -c 'import requests, aiohttp' 2>/dev/null ||
    die "$PY lacks requests or aiohttp (Debian: apt-get install python3-requests python3-aiohttp)"
fi
[ "$(ulimit -Hn)" -ge $((GREEN_MANY + 1000)) ] || die "section y needs $((GREEN_MANY + 1000)) file descriptors (ulimit -Hn)"
ulimit -Sn "$(ulimit -Hn)"

say "crawlbench crawler benchmark $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" -eq 1 ] && echo ' (--quick: smoke test, not a measurement)')"
say "machine: $NCPU CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
say "tools:   $(${CC:-cc} --version | head -1); $(wrk -v 2>&1 | head -1 | awk '{print "wrk", $2}'); $("$PY" -c 'import sys, requests, aiohttp; print("python", sys.version.split()[0], "requests", requests.__version__, "aiohttp", aiohttp.__version__)' 2>/dev/null)"
say "binary:  $SRC_BIN, sha256 $(sha256sum "$BIN" | cut -c1-12), source $(git describe --always --dirty 2>/dev/null || echo 'not a git checkout')"
say "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average at start); 'other' below = CPUs used by"
say "         neither the server nor the client, averaged over each run (the machine's other tenants)"
# Quiet-machine check: how busy the machine is for 2 s before we start (a warning, not a refusal:
# this machine is shared, and every run records the other tenants' load anyway).
m0=$(machine_ticks); sleep 2; m1=$(machine_ticks)
BUSY0=$(busy_cpus "$m0" "$m1")
say "quiet:   $BUSY0 of $NCPU CPUs busy in the 2 s before the first run$(awk -v b="$BUSY0" 'BEGIN {if (b > 0.5) print " -- NOT QUIET: read the figures with that in mind"}')"
say "server:  crawlbench serve --threads 1 on CPU 0; every client on CPU 1; $REPS run(s) per row, alternating"
say "raw output: $OUT"

# ---- x: zero latency, 200,000 pages: wrk against every model ----

if want x; then
  : >"$OUT/x.rec"
  start_server x --pages "$X_PAGES"
  START=$(http "$SRV_URL/graph/random" | sed -n 's/.*"page_id":"\([^"]*\)".*/\1/p')
  [ -n "$START" ] || die "no start page from $SRV_URL/graph/random"
  REACH_X=$("$BIN" graph --pages "$X_PAGES" --reachable-from "$START" | wc -l)
  http "$SRV_URL/graph/sample?n=1000" | grep -o '"[^"]*"' | tr -d '"' | grep -v '^page_ids$' |
    sed 's#^#/api/#' >"$OUT/paths-x.txt"
  [ "$(wc -l <"$OUT/paths-x.txt")" -eq 1000 ] || die "expected 1000 ids from /graph/sample"
  wrk_x() { # run: wrk -t1 -c64, requests/s and requests into the record
    local f=$OUT/x-wrk-$1.txt
    measure x wrk "$1" "$f" wrk -t1 -c"$CONC_X" -d"${WRK_DUR}s" -s bench/paths.lua "$SRV_URL" -- "$OUT/paths-x.txt" || return 0
    sed -i '$ s/$/'" pages=$(awk '/ requests in / {print $1}' "$f") pages_per_s=$(awk '/^Requests\/sec:/ {print $2}' "$f") errors=$(awk '/Socket errors:/ {gsub(",", ""); s += $4 + $6 + $8 + $10} /Non-2xx/ {s += $NF} END {print s + 0}' "$f")"'/' "$OUT/x.rec"
  }
  # Warm-up (not recorded): wrk 1 s and a 5,000-page epoll crawl.
  timeout 20 taskset -c 1 wrk -t1 -c"$CONC_X" -d1s -s bench/paths.lua "$SRV_URL" -- "$OUT/paths-x.txt" >/dev/null 2>&1
  timeout 60 taskset -c 1 "$BIN" crawl "$SRV_URL" -m epoll -c "$CONC_X" --start "$START" -n 5000 --no-progress >/dev/null 2>&1
  QUIET=1
  for i in $(seq "$TARGET_REPS"); do
    wrk_x "$i"
    for m in "${MODELS[@]}"; do
      c=$CONC_X; [ "$m" = sequential ] && c=1
      case "$m" in epoll|async) ;; *) [ "$i" -le "$REPS" ] || continue ;; esac
      crawl x "$m" "$i" "$m" "$c"
    done
  done
  QUIET=0
  stop_pid "$SRV_PID"

  say ""
  say "x) zero latency, $X_PAGES-page graph, start $START ($REACH_X pages reachable); server --threads 1 on CPU 0,"
  say "   client on CPU 1; wrk -t1 -c$CONC_X -d${WRK_DUR}s over 1,000 /api/<id> paths (bench/paths.lua);"
  say "   crawl -c $CONC_X (sequential -c 1); median [min..max] of $TARGET_REPS runs (wrk, epoll, async) or $REPS (the rest)."
  say "   'x wrk': pages/s over wrk's requests/s (medians); 'x wrk, CPU': wrk's client CPU per request over the"
  say "   crawler's per page, the ratio the two would reach with CPU 1 to themselves; 'other': the other tenants"
  say "$(printf '  %-11s %-26s %-6s %-10s %-13s %-22s %-22s %-18s %-18s %s' client 'pages/s (wrk: requests/s)' 'x wrk' \
        'x wrk,CPU' 'pages' 'client CPU us/page' 'server CPU us/page' 'other, CPUs' 'over_ideal' 'RSS MiB')"
  WRK_X=$(median $(vals x wrk pages_per_s))
  WRK_CPU=$(median $(vals_div x wrk ccpu pages 1000000))
  for l in wrk "${MODELS[@]}"; do
    pps=$(median $(vals x "$l" pages_per_s))
    if [ "$l" = wrk ]; then pages="$(median $(vals x wrk pages)) req"; oi=-; rss=-
    else pages=$(count_cell x "$l" pages); oi=$(cell '%.2f' $(vals x "$l" over_ideal))
         rss=$(median $(vals x "$l" peak_rss_kb)); rss=$(awk -v v="$rss" 'BEGIN {printf "%.1f", v / 1024}'); fi
    say "$(printf '  %-11s %-26s %-6s %-10s %-13s %-22s %-22s %-18s %-18s %s' "$l" "$(cell '%.0f' $(vals x "$l" pages_per_s))" \
          "$(ratio "$pps" "$WRK_X")" "$(ratio "$WRK_CPU" "$(median $(vals_div x "$l" ccpu pages 1000000))")" "$pages" \
          "$(cell '%.2f' $(vals_div x "$l" ccpu pages 1000000))" "$(cell '%.2f' $(vals_div x "$l" scpu pages 1000000))" \
          "$(cell '%.2f' $(vals x "$l" other))" "$oi" "$rss")"
  done
  say "  every crawl found all $REACH_X pages with no failure and no duplicate fetch: $(awk -v r="$REACH_X" '
        $1 != "label=wrk" {ok = ok && / rc=0 / && $0 ~ " pages=" r " " && / failed=0 / && / dup=0 /} BEGIN {ok = 1}
        END {print ok ? "yes" : "NO (see x.rec)"}' "$OUT/x.rec")"
  # The same ratios in the quietest alternation: the run (rep) whose wrk, epoll and async runs saw
  # the least other load at their worst.
  QR=$(for i in $(seq "$TARGET_REPS"); do
         awk -v i="$i" '$2 == "run=" i && ($1 == "label=wrk" || $1 == "label=epoll" || $1 == "label=async") {
             for (f = 1; f <= NF; f++) if ($f ~ /^other=/) {v = substr($f, 7); if (v > m) m = v}} END {printf "%.2f %s\n", m, i}' "$OUT/x.rec"
       done | sort -g | head -1)
  read -r QR_OTHER QR_I <<<"$QR"
  q() { awk -v l="$1" -v i="$QR_I" '$1 == "label=" l && $2 == "run=" i {for (f = 1; f <= NF; f++) if ($f ~ /^pages_per_s=/) print substr($f, 13)}' "$OUT/x.rec"; }
  verdict() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {print (b > 0 && a >= t * b) ? "met" : "MISSED"}'; }
  for tm in epoll:0.8 async:0.5; do
    IFS=: read -r m t <<<"$tm"
    mc=$(median $(vals_div x "$m" ccpu pages 1000000))
    say "  target $m >= ${t}x wrk: $(verdict "$(median $(vals x "$m" pages_per_s))" "$WRK_X" "$t") on medians" \
        "($(ratio "$(median $(vals x "$m" pages_per_s))" "$WRK_X")x); in the quietest alternation (run $QR_I, other <= $QR_OTHER CPU):" \
        "$(ratio "$(q "$m")" "$(q wrk)")x; by CPU per page: $(ratio "$WRK_CPU" "$mc")x"
  done
fi

# The start page of y and z: one /graph/random answer of the YZ_PAGES-page graph, for every run.
yz_start() {
  [ -n "${START_YZ:-}" ] && return 0
  start_server yz-start --pages "$YZ_PAGES"
  START_YZ=$(http "$SRV_URL/graph/random" | sed -n 's/.*"page_id":"\([^"]*\)".*/\1/p')
  stop_pid "$SRV_PID"
  [ -n "$START_YZ" ] || die "no start page from /graph/random"
  REACH_YZ=$("$BIN" graph --pages "$YZ_PAGES" --reachable-from "$START_YZ" | wc -l)
}

# ---- y: 50 ms latency, 10,000 pages, 1,000 in flight: crawl time against the ideal ----

# model:concurrency[:max-pages]. Every model at -c 1000 (sequential capped: 500 s otherwise).
Y_RUNS=(async:1000 epoll:1000 green:1000 nursery:1000 threads:1000 pool:1000 pipeline:1000 processes:1000
        "sequential:1:$SEQ_CAP_50")
# BEFORE_BIN=path: an earlier build of crawlbench, run on the same server in the same rounds, for a
# before/after table (its own over_ideal is not comparable: the ideal changed; its time is put over
# this build's ideal for the same crawl).
BEFORE=${BEFORE_BIN:-}
if want y; then
  : >"$OUT/y.rec"
  yz_start
  START=$START_YZ
  start_server y --pages "$YZ_PAGES" --latency "${LATENCY_MS}ms" --max-conns $((GREEN_MANY + 1000))
  # What opening 1,000 connections costs here, client on CPU 1 and server on CPU 0, before any
  # request: the first wave of every model at -c 1000 pays it (loadgen, 256 handshakes pending at
  # a time, then one /health request, so that the time is the handshakes'; not a crawl's latency).
  build_loadgen || die "cannot build bench/loadgen.c"
  CONNECT_MS=()
  for i in $(seq "$REPS"); do
    CONNECT_MS+=("$(taskset -c 1 "$LOADGEN" -p "$SRV_PORT" -c 1000 -a 1 -s 0 -w 0 -d 1 -P /health 2>/dev/null |
                    sed -n 's/.* connect_s=\([0-9.]*\) .*/\1/p' | awk '{print $1 * 1000}')")
  done
  # This machine's speed drifts (another guest on the host's sibling thread?): a CPU-only job of
  # fixed size, run on CPU 1 before each round, shows how much; the crawls' spread follows it.
  CAL_S=()
  for i in $(seq "$Y_REPS"); do
    c0=$EPOCHREALTIME
    taskset -c 1 "$BIN" analyze --pages 300000 --top 0 --max-iter 30 --tolerance 1e-300 >/dev/null
    c1=$EPOCHREALTIME
    CAL_S+=("$(awk -v a="${c0/,/.}" -v b="${c1/,/.}" 'BEGIN {printf "%.3f", b - a}')")
    for r in "${Y_RUNS[@]}"; do
      IFS=: read -r m c cap <<<"$r"
      crawl y "$m-$c" "$i" "$m" "$c" ${cap:+-n "$cap"}
      [ -n "$BEFORE" ] && CRAWL_BIN=$BEFORE crawl y "before-$m-$c" "$i" "$m" "$c" ${cap:+-n "$cap"}
    done
    crawl y "green-$GREEN_MANY" "$i" green "$GREEN_MANY"
    crawl y "async-$GREEN_MANY" "$i" async "$GREEN_MANY"
  done
  stop_pid "$SRV_PID"

  say ""
  say "y) --latency ${LATENCY_MS}ms, $YZ_PAGES-page graph, start $START_YZ ($REACH_YZ pages reachable); server --threads 1 --max-conns"
  say "   $((GREEN_MANY + 1000)) on CPU 0, crawler on CPU 1; median [min..max] of $Y_REPS; other load $(other_load y) CPUs."
  say "   over_ideal = elapsed / the crawl replayed with zero client CPU at the server's own times (Server-Timing)"
  say "$(printf '  %-22s %-9s %-24s %-22s %-22s %-24s %-9s %-22s %s' model pages elapsed_s over_ideal 'p50 ms' 'p99 ms' ideal_s 'peak RSS MiB' 'client CPU us/page')"
  for r in "${Y_RUNS[@]}" "green:$GREEN_MANY" "async:$GREEN_MANY"; do
    IFS=: read -r m c cap <<<"$r"
    l="$m-$c"
    say "$(printf '  %-22s %-9s %-24s %-22s %-22s %-24s %-9s %-22s %s' "$m -c $c${cap:+ -n $cap}" "$(count_cell y "$l" pages)" \
          "$(cell '%.3f' $(vals y "$l" elapsed_s))" "$(cell '%.3f' $(vals y "$l" over_ideal))" \
          "$(cell '%.1f' $(vals y "$l" p50))" "$(cell '%.1f' $(vals y "$l" p99))" \
          "$(median $(vals y "$l" ideal_s) | awk '{printf "%.3f", $1}')" \
          "$(cell '%.1f' $(vals y "$l" peak_rss_kb | awk '{print $1 / 1024}'))" \
          "$(cell '%.1f' $(vals_div y "$l" ccpu pages 1000000))")"
  done
  if [ -n "$BEFORE" ]; then
    say "  before: $BEFORE, same server and rounds; over_ideal here = its elapsed / this build's ideal (median)"
    for r in "${Y_RUNS[@]}"; do
      IFS=: read -r m c cap <<<"$r"
      ideal=$(median $(vals y "$m-$c" ideal_s))
      say "$(printf '  %-22s %-9s %-24s %-22s %-22s %-24s %s' "before $m -c $c" "$(count_cell y "before-$m-$c" pages)" \
            "$(cell '%.3f' $(vals y "before-$m-$c" elapsed_s))" \
            "$(cell '%.3f' $(vals y "before-$m-$c" elapsed_s | awk -v i="$ideal" 'i > 0 {print $1 / i}'))" \
            "$(cell '%.1f' $(vals y "before-$m-$c" p50))" "$(cell '%.1f' $(vals y "before-$m-$c" p99))" \
            "client CPU $(cell '%.1f' $(vals_div y "before-$m-$c" ccpu pages 1000000)) us/page")"
    done
  fi
  say "  -c $GREEN_MANY: peak in flight green $(cell '%.0f' $(vals y "green-$GREEN_MANY" peak_in_flight)), async" \
      "$(cell '%.0f' $(vals y "async-$GREEN_MANY" peak_in_flight)); extra memory per green thread over -c 1000: $(awk -v a="$(median $(vals y "green-$GREEN_MANY" peak_rss_kb))" -v b="$(median $(vals y green-1000 peak_rss_kb))" \
          -v n="$((GREEN_MANY - 1000))" 'BEGIN {printf "%.1f KiB", (a - b) / n}')"
  say "  duplicate fetches (server audit), all runs together: $(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^dup=/) {sub(/dup=/, "", $i); s += $i}} END {print s + 0}' "$OUT/y.rec")"
  say "  1,000 connections opened from CPU 1 (loadgen, no crawl): $(cell '%.0f' "${CONNECT_MS[@]}") ms: what the"
  say "  first wave of any model at -c 1000 waits for its handshakes, on top of the server's ${LATENCY_MS} ms"
  say "  machine speed: a fixed CPU-only job on CPU 1 (analyze --pages 300000) before each round took ${CAL_S[*]} s"
  say "  targets: within 1.2x of the ideal, p99 within 10 ms of ${LATENCY_MS} ms (medians):"
  for r in async:1000 green:1000 nursery:1000 epoll:1000 threads:1000; do
    IFS=: read -r m c <<<"$r"
    o=$(median $(vals y "$m-$c" over_ideal))
    p=$(median $(vals y "$m-$c" p99))
    say "    $m -c $c: ${o}x $(awk -v o="$o" 'BEGIN {print (o != "n/a" && o <= 1.2) ? "met" : "MISSED"}'), p99 $p ms $(awk -v p="$p" -v l="$LATENCY_MS" 'BEGIN {print (p != "n/a" && p <= l + 10) ? "met" : "MISSED"}')"
  done
fi

# ---- z: the guide's Python crawlers against the C models ----

# One comparison (zero latency, uncapped; or 50 ms, capped). Sets rows in $OUT/<series>.rec.
z_series() { # series max_pages(0 = no cap)
  local series=$1 cap=$2 i m c pymax
  pymax=$([ "$cap" -gt 0 ] && echo "$cap" || echo 1000000000)
  for i in $(seq "$REPS"); do
    if [ "$cap" -eq 0 ] || [ "$i" -le "$SEQ50_REPS" ]; then
      pycrawl "$series" py-sequential "$i" sequential 1 "$pymax"
      if [ "$cap" -gt 0 ]; then crawl "$series" sequential "$i" sequential 1 -n "$cap"; else crawl "$series" sequential "$i" sequential 1; fi
    fi
    pycrawl "$series" py-threading "$i" threading "$CONC_Z" "$pymax"
    pycrawl "$series" py-asyncio "$i" asyncio "$CONC_Z" "$pymax"
    for m in "${MODELS[@]}"; do
      [ "$m" = sequential ] && continue
      if [ "$cap" -gt 0 ]; then crawl "$series" "$m" "$i" "$m" "$CONC_Z" -n "$cap"; else crawl "$series" "$m" "$i" "$m" "$CONC_Z"; fi
    done
  done
}
z_table() { # series title
  local series=$1 l pps ps pt pa pac ck
  say "$2"
  say "$(printf '  %-16s %-13s %-28s %-24s %-8s %-8s %-8s %-11s %s' crawler pages 'pages/s' 'client CPU us/page' \
        'x seq' 'x thr' 'x aio' 'x aio,CPU' 'dup fetches')"
  ps=$(median $(vals "$series" py-sequential pages_per_s))
  pt=$(median $(vals "$series" py-threading pages_per_s))
  pa=$(median $(vals "$series" py-asyncio pages_per_s))
  pac=$(median $(vals_div "$series" py-asyncio cpu_s pages 1000000))
  for l in py-sequential py-threading py-asyncio sequential epoll async threads processes pool green nursery pipeline; do
    pps=$(median $(vals "$series" "$l" pages_per_s))
    # CPU: the Python crawlers' own figure (interpreter start-up excluded); crawlbench's whole process.
    ck=ccpu; case "$l" in py-*) ck=cpu_s ;; esac
    say "$(printf '  %-16s %-13s %-28s %-24s %-8s %-8s %-8s %-11s %s' "$l" "$(count_cell "$series" "$l" pages)" \
          "$(cell '%.0f' $(vals "$series" "$l" pages_per_s))" "$(cell '%.1f' $(vals_div "$series" "$l" "$ck" pages 1000000))" \
          "$(ratio "$pps" "$ps")" "$(ratio "$pps" "$pt")" "$(ratio "$pps" "$pa")" \
          "$(ratio "$pac" "$(median $(vals_div "$series" "$l" "$ck" pages 1000000))")" "$(cell '%.0f' $(vals "$series" "$l" dup))")"
  done
}

if want z; then
  : >"$OUT/z0.rec"; : >"$OUT/z50.rec"
  yz_start
  START=$START_YZ
  start_server z0 --pages "$YZ_PAGES"
  QUIET=1
  z_series z0 0
  QUIET=0
  stop_pid "$SRV_PID"
  start_server z50 --pages "$YZ_PAGES" --latency "${LATENCY_MS}ms"
  z_series z50 "$CAP_50"
  stop_pid "$SRV_PID"

  say ""
  say "z) the guide's Python crawlers (bench/guide_crawlers.py, $PY) against the C models: $YZ_PAGES-page graph,"
  say "   start $START_YZ ($REACH_YZ pages reachable), server --threads 1 on CPU 0, crawler on CPU 1; Python threading"
  say "   and asyncio and every C model but sequential at concurrency $CONC_Z; median [min..max] of $REPS."
  say "   'x seq', 'x thr', 'x aio': pages/s over the guide's sequential, threading, asyncio crawler's pages/s"
  z_table z0 "  zero latency, no page cap (max_pages 1,000,000,000); other load $(other_load z0) CPUs"
  say "  pages found by the guide's crawlers at zero latency, of $REACH_YZ reachable:" \
      "sequential $(count_cell z0 py-sequential pages), threading $(count_cell z0 py-threading pages), asyncio $(count_cell z0 py-asyncio pages)"
  say "  target: epoll >= 10x the guide's asyncio crawler (pages/s, concurrency $CONC_Z both):" \
      "$(awk -v a="$(median $(vals z0 epoll pages_per_s))" -v b="$(median $(vals z0 py-asyncio pages_per_s))" \
           'BEGIN {r = b > 0 ? a / b : 0; printf "%.1fx %s", r, (r >= 10 ? "met" : "MISSED")}')" \
      "(by CPU per page: $(ratio "$(median $(vals_div z0 py-asyncio cpu_s pages 1000000))" "$(median $(vals_div z0 epoll ccpu pages 1000000))")x);" \
      "epoll finds every reachable page: $([ "$(count_cell z0 epoll pages)" = "$REACH_YZ" ] && echo met || echo MISSED)"
  z_table z50 "  --latency ${LATENCY_MS}ms, every crawler capped at $CAP_50 pages (max_pages $CAP_50, crawl -n $CAP_50); other load $(other_load z50) CPUs;
  the two sequential crawlers $SEQ50_REPS run(s) each ($CAP_50 x ${LATENCY_MS} ms = $((CAP_50 * LATENCY_MS / 1000)) s a run), the others $REPS"
fi

for f in x y z0 z50; do
  [ -s "$OUT/$f.rec" ] && { echo; echo "runs, series $f:"; cat "$OUT/$f.rec"; } >>"$SUMMARY"
done
echo
echo "per-run records: $SUMMARY"
