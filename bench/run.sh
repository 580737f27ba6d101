#!/usr/bin/env bash
# crawlbench's benchmark, as `make bench` runs it (docs/BENCHMARKS.md explains every number):
#   a) keep-alive throughput of one server thread against nginx with one worker, same bytes;
#   b) the same with a new connection per request;
#   c) latency accuracy of --latency 50ms with 10,000 connections open, 1,000 of them busy;
#   d) start-up time and peak memory for a 1,000,000-page graph.
# Raw output goes to $CRAWLBENCH_BENCH_DIR (default /tmp/crawlbench-bench); the summary is printed
# and kept there as summary.txt. Every load is bounded in time and sent to 127.0.0.1 only; every
# process this script starts is stopped by its PID when it exits, however it exits.
#
# usage: bench/run.sh [--quick] [--section a|b|c|d[,...]]...
#   --quick    3 s runs, one repetition: a smoke test of the script, not a measurement
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# ---- options ----

. bench/lib.sh  # (from the repository root) options, stop_pid, bounded, children_cpu, machine_ticks, the cleanup trap
bench_options "a b c d" "$@"

if [ "$QUICK" -eq 1 ]; then
  DUR=3 REPS=1 WARM=1 LAT_WARM=1 LAT_DUR=3 LAT_RUNS=1 MEM_RUNS=1 MEM_WRK=2
else
  DUR=10 REPS=5 WARM=2 LAT_WARM=2 LAT_DUR=10 LAT_RUNS=2 MEM_RUNS=3 MEM_WRK=3
fi

OUT=${CRAWLBENCH_BENCH_DIR:-/tmp/crawlbench-bench}
SRC_BIN=build/release/crawlbench
BIN=$OUT/crawlbench  # a copy: a rebuild during the run does not change what is measured
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
SUMMARY=$OUT/summary.txt

die() { echo "bench/run.sh: $*" >&2; exit 1; }


# nginx's worker is not our child: signal it only if it is still the process we saw start
# (same PID and the same start time), which is the case only if its master died before it.
stop_nginx() { # master worker worker_start_time
  stop_pid "$1"
  if [ -n "$2" ] && [ "$(sed 's/^.*) //' "/proc/$2/stat" 2>/dev/null | cut -d' ' -f20)" = "$3" ]; then
    kill -TERM "$2" 2>/dev/null
  fi
}

# ---- measuring helpers ----

# The same, split: "user kernel" ticks (utime, stime) summed over the PIDs.
cpu_split() {
  local pid u=0 k=0 a b
  for pid in "$@"; do
    read -r a b < <(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12, $13}') || return 1
    [ -n "$b" ] || return 1
    u=$((u + a)); k=$((k + b))
  done
  echo "$u $k"
}

# Server CPU time, in clock ticks, of the given PIDs (utime + stime of the whole process).
cpu_ticks() {
  local pid sum=0 t
  for pid in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}') || return 1
    sum=$((sum + t))
  done
  echo "$sum"
}

# median min max of the numbers given
stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; print m, v[1], v[NR]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
fmt_int() { awk -v v="$1" 'BEGIN {printf "%.0f", v}'; }

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# Starts crawlbench (optionally under a prefix such as "taskset -c 0") and waits for its
# "listening on" line. Sets SRV_PID and SRV_PORT. Output goes to $OUT/<name>.out/.err.
start_crawlbench() { # name prefix args...
  local name=$1 prefix=$2 i
  shift 2
  # shellcheck disable=SC2086  # the prefix is words on purpose
  $prefix "$BIN" serve "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
  SRV_PID=$!
  STARTED+=("$SRV_PID")
  for i in $(seq 3000); do
    SRV_PORT=$(sed -n 's#^listening on http://.*:\([0-9]*\)/$#\1#p' "$OUT/$name.out")
    [ -n "$SRV_PORT" ] && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.01
  done
  cat "$OUT/$name.err" >&2
  die "crawlbench serve $* did not start"
}

port_in_use() { # port: anything bound to it, in any state
  local hex
  hex=$(printf ':%04X ' "$1")
  grep -qi "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A free port below the ephemeral range, for nginx (which cannot pick its own).
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 10000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# GET http://127.0.0.1:PORT/PATH to stdout; fails unless it answers 200. Never through a proxy.
http_get() { # port path
  curl -sf --noproxy '*' --max-time 10 "http://127.0.0.1:$1$2"
}

# Copies the body of every path in FILE (one a line) from PORT into DIR/<path>, over one keep-alive
# connection; fails unless every answer is 200.
http_copy() { # port paths-file dir
  awk -v base="http://127.0.0.1:$1" -v dir="$3" '{printf "url = \"%s%s\"\noutput = \"%s%s\"\n", base, $0, dir, $0}' \
    "$2" >"$3.curlrc" || return 1
  curl -sf --noproxy '*' --max-time 60 --create-dirs -K "$3.curlrc"
}

# Waits until GET path answers 200 on port.
wait_http() { # port path
  local i
  for i in $(seq 500); do
    http_get "$1" "$2" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  die "nothing answers on 127.0.0.1:$1$2"
}

# Runs wrk (pinned to CPU 1) against port with the path list, measuring the server PIDs' CPU time
# and the rest of the machine's. Sets W_RPS, W_REQS, W_RPC (requests per server CPU-second), W_CPU
# (server CPU seconds), W_WRK (wrk's CPU seconds), W_ERRS and W_OTHER (CPUs kept busy by neither
# server nor wrk, on average: the other tenants of the machine).
# Raw wrk output goes to $OUT/<label>.wrk.
run_wrk() { # label port seconds "pids" [extra wrk args...]
  local label=$1 port=$2 secs=$3 pids=$4
  shift 4
  local t0 t1 u0 u1 k0 k1 m0 m1 c0 c1 rps reqs errs wrk_cpu
  # shellcheck disable=SC2086
  read -r u0 k0 < <(cpu_split $pids) && [ -n "$k0" ] || die "server gone before $label"
  m0=$(machine_ticks)
  children_cpu c0
  bounded timeout $((secs + 15)) taskset -c 1 wrk -t1 -c50 -d"${secs}s" "$@" -s bench/paths.lua \
    "http://127.0.0.1:$port" -- "$OUT/paths.txt" >"$OUT/$label.wrk" 2>&1
  children_cpu c1
  # shellcheck disable=SC2086
  read -r u1 k1 < <(cpu_split $pids) && [ -n "$k1" ] || die "server died during $label"
  t0=$((u0 + k0)) t1=$((u1 + k1))
  m1=$(machine_ticks)
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/$label.wrk")
  reqs=$(awk '/ requests in / {print $1}' "$OUT/$label.wrk")
  [ -n "$rps" ] && [ -n "$reqs" ] || { cat "$OUT/$label.wrk" >&2; die "wrk failed ($label)"; }
  errs=$(awk '/Socket errors:/ {gsub(",", ""); s += $4 + $6 + $8 + $10} /Non-2xx/ {s += $NF} END {print s + 0}' "$OUT/$label.wrk")
  wrk_cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN {printf "%.0f", (b - a) * hz}')
  W_WRK=$(awk -v t="$wrk_cpu" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}')
  # Server CPU per request in user space and in the kernel, in microseconds.
  read -r W_USER_US W_KERN_US < <(awk -v u="$((u1 - u0))" -v k="$((k1 - k0))" -v r="$reqs" -v hz="$HZ" \
    'BEGIN {printf "%.2f %.2f\n", u / hz * 1e6 / r, k / hz * 1e6 / r}')
  read -r W_RPS W_REQS W_RPC W_CPU W_ERRS W_OTHER < <(
  awk -v rps="$rps" -v reqs="$reqs" -v t="$((t1 - t0))" -v hz="$HZ" -v errs="$errs" -v m0="$m0" -v m1="$m1" \
      -v wrk="$wrk_cpu" -v ncpu="$NCPU" 'BEGIN {
        split(m0, a, " "); split(m1, b, " ");
        busy = b[1] - a[1]; total = b[2] - a[2];
        other = total > 0 ? (busy - t - wrk) / (total / ncpu) : 0; if (other < 0) other = 0;
        cpu = t / hz;
        printf "%s %s %.0f %.2f %d %.2f\n", rps, reqs, (cpu > 0 ? reqs / cpu : 0), cpu, errs, other }')
}

# ---- set-up ----

mkdir -p "$OUT" || die "cannot create $OUT"
: >"$SUMMARY"
rm -f "$OUT"/*.runs
[ -x "$SRC_BIN" ] || die "$SRC_BIN is missing: run 'make' first (or 'make bench')"
cp "$SRC_BIN" "$BIN" || die "cannot copy $SRC_BIN to $OUT"
command -v wrk >/dev/null || die "wrk is missing: scripts/deps.sh bench"
command -v curl >/dev/null || die "curl is missing: scripts/deps.sh bench"
command -v taskset >/dev/null || die "taskset is missing: scripts/deps.sh bench"
[ "$NCPU" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, client on CPU 1); this machine has $NCPU"
build_loadgen || die "cannot build bench/loadgen.c"

say "crawlbench benchmark $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" -eq 1 ] && echo ' (--quick: smoke test, not a measurement)')"
say "machine: $NCPU CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
say "tools:   $(${CC:-cc} --version | head -1); $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -1 | awk '{print "wrk", $2}')"
say "server:  $SRC_BIN, sha256 $(sha256sum "$BIN" | cut -c1-12), source $(git describe --always --dirty 2>/dev/null || echo 'not a git checkout')"
say "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average at start)"
say "raw output: $OUT"

# ---- a, b: throughput against nginx ----

start_nginx() { # dir sendfile(on|off): sets NG_PORT, NG_PID (master), NG_WORKER
  local dir=$1 sendfile=$2 pid child i
  rm -rf "$dir" && mkdir -p "$dir/tmp" || die "cannot create $dir"
  NG_PORT=$(free_port)
  cat >"$dir/nginx.conf" <<EOF
# Written by bench/run.sh: nginx as the baseline for crawlbench's throughput benchmark. One worker,
# the answers of crawlbench's /api/<id> stored as static files, nothing logged.
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 4096;
    use epoll;
}
http {
    types { }
    default_type application/json;
    access_log off;
    server_tokens off;
    etag off;
    sendfile $sendfile;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=120s;
    open_file_cache_valid 120s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$NG_PORT backlog=4096;
        root $OUT/www;
        location /api/ { }
    }
}
EOF
  taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout" 2>&1 &
  NG_PID=$!
  STARTED+=("$NG_PID")
  wait_http "$NG_PORT" "$(head -1 "$OUT/paths.txt")"
  # The worker is the master's only child.
  NG_WORKER=""
  for i in $(seq 100); do
    if [ -r "/proc/$NG_PID/task/$NG_PID/children" ]; then
      read -r NG_WORKER _ <"/proc/$NG_PID/task/$NG_PID/children"
    else
      for pid in /proc/[0-9]*; do
        child=${pid#/proc/}
        [ "$(sed 's/^.*) //' "$pid/stat" 2>/dev/null | awk '{print $2}')" = "$NG_PID" ] && NG_WORKER=$child
      done
    fi
    [ -n "$NG_WORKER" ] && break
    sleep 0.05
  done
  [ -n "$NG_WORKER" ] || die "nginx started no worker (see $dir/error.log)"
  NG_WORKER_START=$(sed 's/^.*) //' "/proc/$NG_WORKER/stat" | cut -d' ' -f20)
}

if want a || want b; then
  # Our server: one thread, one CPU. The graph: 10,000 pages, the default seed.
  start_crawlbench tput "taskset -c 0" --pages 10000 --port 0 --threads 1
  OURS_PID=$SRV_PID OURS_PORT=$SRV_PORT
  # 1,000 page ids from the server's own sample, and their answers as files for nginx.
  http_get "$OURS_PORT" '/graph/sample?n=1000' >"$OUT/sample.json" || die "cannot fetch the sample"
  grep -o '"[^"]*"' "$OUT/sample.json" | tr -d '"' | grep -v '^page_ids$' | sed 's#^#/api/#' >"$OUT/paths.txt"
  [ "$(wc -l <"$OUT/paths.txt")" -eq 1000 ] || die "expected 1000 ids in $OUT/sample.json"
  rm -rf "$OUT/www" "$OUT/check" && mkdir -p "$OUT/www/api" "$OUT/check/api" || die "cannot create $OUT/www"
  http_copy "$OURS_PORT" "$OUT/paths.txt" "$OUT/www" || die "cannot copy the answers"

  # nginx, both ways of sending a file; the better one (more requests per CPU-second) stays.
  start_nginx "$OUT/nginx-sendfile-on" on
  NG_ON=("$NG_PID" "$NG_WORKER" "$NG_PORT" "$NG_WORKER_START")
  start_nginx "$OUT/nginx-sendfile-off" off
  NG_OFF=("$NG_PID" "$NG_WORKER" "$NG_PORT" "$NG_WORKER_START")
  http_copy "${NG_OFF[2]}" "$OUT/paths.txt" "$OUT/check" || die "nginx does not serve every page"
  diff -rq "$OUT/www" "$OUT/check" >/dev/null || die "nginx's answers differ from crawlbench's"
  run_wrk probe-on-warm "${NG_ON[2]}" 1 "${NG_ON[0]} ${NG_ON[1]}"
  run_wrk probe-on "${NG_ON[2]}" 3 "${NG_ON[0]} ${NG_ON[1]}"
  on_rpc=$W_RPC
  run_wrk probe-off-warm "${NG_OFF[2]}" 1 "${NG_OFF[0]} ${NG_OFF[1]}"
  run_wrk probe-off "${NG_OFF[2]}" 3 "${NG_OFF[0]} ${NG_OFF[1]}"
  off_rpc=$W_RPC
  if [ "$on_rpc" -ge "$off_rpc" ]; then
    NG_SENDFILE=on; NG=("${NG_ON[@]}"); stop_nginx "${NG_OFF[0]}" "${NG_OFF[1]}" "${NG_OFF[3]}"
  else
    NG_SENDFILE=off; NG=("${NG_OFF[@]}"); stop_nginx "${NG_ON[0]}" "${NG_ON[1]}" "${NG_ON[3]}"
  fi
  say "nginx sendfile probe (3 s keep-alive each, req per server CPU-s): on $on_rpc, off $off_rpc -> sendfile $NG_SENDFILE"
  NG_PIDS="${NG[0]} ${NG[1]}"
fi

# Runs the alternating series for one section; prints its table rows.
throughput_section() { # tag title [extra wrk args...]
  local tag=$1 title=$2 i srv
  shift 2
  local -a o_rps=() o_rpc=() n_rps=() n_rpc=() o_err=() n_err=() other=() o_cpu=() n_cpu=() o_wrk=() n_wrk=()
  local -a o_user=() o_kern=() n_user=() n_kern=()
  run_wrk "$tag-ours-warm" "$OURS_PORT" "$WARM" "$OURS_PID" "$@"
  run_wrk "$tag-nginx-warm" "${NG[2]}" "$WARM" "$NG_PIDS" "$@"
  for i in $(seq "$REPS"); do
    for srv in ours nginx; do
      if [ "$srv" = ours ]; then
        run_wrk "$tag-ours-$i" "$OURS_PORT" "$DUR" "$OURS_PID" "$@"
        o_rps+=("$W_RPS"); o_rpc+=("$W_RPC"); o_err+=("$W_ERRS"); o_cpu+=("$W_CPU"); o_wrk+=("$W_WRK")
        o_user+=("$W_USER_US"); o_kern+=("$W_KERN_US")
      else
        run_wrk "$tag-nginx-$i" "${NG[2]}" "$DUR" "$NG_PIDS" "$@"
        n_rps+=("$W_RPS"); n_rpc+=("$W_RPC"); n_err+=("$W_ERRS"); n_cpu+=("$W_CPU"); n_wrk+=("$W_WRK")
        n_user+=("$W_USER_US"); n_kern+=("$W_KERN_US")
      fi
      other+=("$W_OTHER")
      printf '  %s run %d %-5s %7.0f req/s %7.0f req/CPU-s %8d requests  server cpu %5ss  wrk cpu %5ss  errors %s  other load %s cores\n' \
        "$tag" "$i" "$srv" "$W_RPS" "$W_RPC" "$W_REQS" "$W_CPU" "$W_WRK" "$W_ERRS" "$W_OTHER" >>"$OUT/$tag.runs"
    done
  done
  local om omin omax nm nmin nmax cm cmin cmax dm dmin dmax xm xmin xmax
  read -r om omin omax <<<"$(stats "${o_rps[@]}")"
  read -r nm nmin nmax <<<"$(stats "${n_rps[@]}")"
  read -r cm cmin cmax <<<"$(stats "${o_rpc[@]}")"
  read -r dm dmin dmax <<<"$(stats "${n_rpc[@]}")"
  read -r xm xmin xmax <<<"$(stats "${other[@]}")"
  say ""
  say "$title  (wrk -t1 -c50 -d${DUR}s, $REPS runs each, alternating; median [min..max])"
  say "$(printf '  %-32s %-28s %-28s %s' '' 'crawlbench --threads 1' "nginx 1 worker (sendfile $NG_SENDFILE)" 'ours/nginx')"
  say "$(printf '  %-32s %-28s %-28s %s' 'requests/s' "$(fmt_int "$om") [$(fmt_int "$omin")..$(fmt_int "$omax")]" \
        "$(fmt_int "$nm") [$(fmt_int "$nmin")..$(fmt_int "$nmax")]" "$(ratio "$om" "$nm")")"
  say "$(printf '  %-32s %-28s %-28s %s' 'requests per server CPU-second' "$(fmt_int "$cm") [$(fmt_int "$cmin")..$(fmt_int "$cmax")]" \
        "$(fmt_int "$dm") [$(fmt_int "$dmin")..$(fmt_int "$dmax")]" "$(ratio "$cm" "$dm")")"
  cell() { local m lo hi; read -r m lo hi <<<"$(stats "$@")"; echo "$m [$lo..$hi]"; }
  say "$(printf '  %-32s %-28s %-28s' "server CPU-s per ${DUR} s run" "$(cell "${o_cpu[@]}")" "$(cell "${n_cpu[@]}")")"
  say "$(printf '  %-32s %-28s %-28s' "wrk CPU-s per ${DUR} s run" "$(cell "${o_wrk[@]}")" "$(cell "${n_wrk[@]}")")"
  say "$(printf '  %-32s %-28s %-28s' 'server user-space us per request' "$(cell "${o_user[@]}")" "$(cell "${n_user[@]}")")"
  say "$(printf '  %-32s %-28s %-28s' 'server kernel us per request' "$(cell "${o_kern[@]}")" "$(cell "${n_kern[@]}")")"
  say "$(printf '  %-32s %-28s %-28s' 'errors (all runs)' "$(IFS=+; echo $((${o_err[*]})))" "$(IFS=+; echo $((${n_err[*]})))")"
  say "  other load on the machine during the runs: median $xm cores [$xmin..$xmax] (of $NCPU)"
  # What no change to our own code can beat: nginx's whole CPU per request over our kernel time
  # alone, as if our user-space cost were zero (medians).
  local ok nk nu
  ok=$(stats "${o_kern[@]}" | cut -d' ' -f1); nk=$(stats "${n_kern[@]}" | cut -d' ' -f1)
  nu=$(stats "${n_user[@]}" | cut -d' ' -f1)
  say "  ceiling on req per CPU-s / nginx's with our user-space time at zero: $(awk -v ok="$ok" -v nk="$nk" -v nu="$nu" \
        'BEGIN {if (ok > 0) printf "%.2fx", (nk + nu) / ok; else print "n/a"}')"
  say "  targets: req per CPU-s >= 1.5x nginx: $(awk -v a="$cm" -v b="$dm" 'BEGIN {print (a >= 1.5 * b) ? "met" : "MISSED"}');" \
      "req/s >= nginx: $(awk -v a="$om" -v b="$nm" 'BEGIN {print (a >= b) ? "met" : "MISSED"}')"
}

if want a; then
  : >"$OUT/a.runs"
  throughput_section a "a) throughput, keep-alive, server on CPU 0, wrk on CPU 1"
fi
if want b; then
  : >"$OUT/b.runs"
  throughput_section b "b) throughput, a new connection per request (Connection: close)" -H 'Connection: close'
fi
if want a || want b; then
  stop_pid "$OURS_PID"
  stop_nginx "${NG[0]}" "${NG[1]}" "${NG[3]}"
fi

# ---- c: latency accuracy with many idle connections ----

# One series of latency runs; the server and the load generator run under the given prefix (empty,
# or chrt for real-time scheduling). Each run leaves its RESULT line in $OUT/c-<tag>-<i>.result,
# completed with the server's CPU time and how busy the machine was.
latency_series() { # tag prefix
  local tag=$1 prefix=$2 i t0 t1 m0 m1
  # shellcheck disable=SC2086  # the prefix is words on purpose
  start_crawlbench "latency-$tag" "$prefix" --pages 10000 --port 0 --threads 2 --latency 50ms --max-conns 12000
  for i in $(seq "$LAT_RUNS"); do
    t0=$(cpu_ticks "$SRV_PID"); m0=$(machine_ticks)
    # shellcheck disable=SC2086
    bounded timeout $((LAT_WARM + LAT_DUR + 60)) $prefix "$LOADGEN" -p "$SRV_PORT" -c 10000 -a 1000 -s 1000 -w "$LAT_WARM" \
      -d "$LAT_DUR" -u "$OUT/paths.txt" >"$OUT/c-$tag-$i.result" 2>"$OUT/c-$tag-$i.txt" ||
      die "loadgen failed (see $OUT/c-$tag-$i.txt)"
    t1=$(cpu_ticks "$SRV_PID"); m1=$(machine_ticks)
    # Requests per server CPU-second counts warm-up and measurement alike (same rate in both).
    awk -v t="$((t1 - t0))" -v hz="$HZ" -v secs="$((LAT_WARM + LAT_DUR))" -v m0="$m0" -v m1="$m1" -v n="$NCPU" '{
        r = $0; sub(/.* rps=/, "", r); sub(/ .*/, "", r);
        split(m0, a, " "); split(m1, b, " ");
        printf "%s server_cpu_s=%.2f rpc=%.0f busy=%.2f\n", $0, t / hz, t ? r * secs / (t / hz) : 0,
               (b[1] - a[1]) / ((b[2] - a[2]) / n) }' "$OUT/c-$tag-$i.result" >"$OUT/c-$tag-$i.line"
    echo "  $tag run $i: $(cat "$OUT/c-$tag-$i.line")" >>"$OUT/c.runs"
  done
  stop_pid "$SRV_PID"
}

# Prints "median min max" of one key over a series' runs.
latency_stat() { # tag key
  local f vals=()
  for f in "$OUT/c-$1-"*.line; do vals+=("$(sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$f")"); done
  stats "${vals[@]}"
}
latency_cell() { # tag key scale(1000 for us->ms, 1 otherwise) decimals
  local m lo hi
  read -r m lo hi <<<"$(latency_stat "$1" "$2")"
  awk -v m="$m" -v lo="$lo" -v hi="$hi" -v s="$3" -v d="$4" \
    'BEGIN {f = "%." d "f"; printf f " [" f ".." f "]", m / s, lo / s, hi / s}'
}
latency_verdict() { # tag
  local p50 p99 errs
  read -r p50 _ _ <<<"$(latency_stat "$1" p50_us)"
  read -r p99 _ _ <<<"$(latency_stat "$1" p99_us)"
  read -r _ _ errs <<<"$(latency_stat "$1" errors)"
  echo "p50 within 1 ms of 50 ms: $(awk -v v="$p50" 'BEGIN {print (v >= 49000 && v <= 51000) ? "met" : "MISSED"}');" \
       "p99 within 5 ms: $(awk -v v="$p99" 'BEGIN {print (v <= 55000) ? "met" : "MISSED"}');" \
       "no errors: $(awk -v v="$errs" 'BEGIN {print v == 0 ? "met" : "MISSED"}')"
}

if want c; then
  : >"$OUT/c.runs"
  rm -f "$OUT"/c-*.line
  if [ ! -s "$OUT/paths.txt" ]; then
    start_crawlbench paths "" --pages 10000 --port 0 --threads 1
    http_get "$SRV_PORT" '/graph/sample?n=1000' | grep -o '"[^"]*"' | tr -d '"' |
      grep -v '^page_ids$' | sed 's#^#/api/#' >"$OUT/paths.txt"
    stop_pid "$SRV_PID"
  fi
  tags=(normal)
  latency_series normal ""
  # The same under SCHED_FIFO, when allowed: the machine's other tenants can then no longer delay a
  # wake-up of the server or of the load generator, so what remains is the server's own timing.
  if chrt -f 20 true 2>/dev/null; then
    tags+=(fifo)
    latency_series fifo "chrt -f 20"
  fi
  say ""
  say "c) latency accuracy: crawlbench serve --threads 2 --latency 50ms --max-conns 12000 (unpinned);"
  say "   bench/loadgen -c 10000 -a 1000 -s 1000 -w $LAT_WARM -d $LAT_DUR: 10,000 connections open, 1,000 with one request"
  say "   in flight (their first requests spread over 1 s, so that they do not move in lock-step)"
  say "   ($LAT_RUNS run(s) per column; median [min..max] over runs; 'SCHED_FIFO': server and loadgen under chrt -f 20)"
  header=$(printf '  %-24s' '')
  for t in "${tags[@]}"; do header+=$(printf ' %-34s' "$([ "$t" = normal ] && echo 'normal scheduling' || echo 'SCHED_FIFO')"); done
  say "$header"
  for row in "p50 ms:p50_us:1000:3" "p90 ms:p90_us:1000:3" "p99 ms:p99_us:1000:3" "p99.9 ms:p999_us:1000:3" \
             "max ms:max_us:1000:3" "requests/s:rps:1:0" "errors:errors:1:0" "server CPU, cores:server_cpu_s:$((LAT_WARM + LAT_DUR)):2" \
             "req per server CPU-s:rpc:1:0" "machine busy, cores:busy:1:2"; do
    IFS=: read -r label key scale dec <<<"$row"
    line=$(printf '  %-24s' "$label")
    for t in "${tags[@]}"; do line+=$(printf ' %-34s' "$(latency_cell "$t" "$key" "$scale" "$dec")"); done
    say "$line"
  done
  for t in "${tags[@]}"; do say "  targets ($t): $(latency_verdict "$t")"; done
fi

# ---- d: start-up time and peak memory, 1,000,000 pages ----

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

if want d; then
  : >"$OUT/d.runs"
  starts=() gens=() hwm1=() hwm2=()
  rm -f "$OUT/d.fifo" && mkfifo "$OUT/d.fifo" || die "cannot make a fifo in $OUT"
  for i in $(seq "$MEM_RUNS"); do
    exec {fifo}<>"$OUT/d.fifo"
    t0=$EPOCHREALTIME
    "$BIN" serve --pages 1000000 --port 0 >"$OUT/d.fifo" 2>"$OUT/d-$i.err" &
    pid=$!
    STARTED+=("$pid")
    IFS= read -r -t 120 -u "$fifo" line || die "the 1,000,000-page server did not start (see $OUT/d-$i.err)"
    t1=$EPOCHREALTIME
    exec {fifo}<&-
    port=$(sed -n 's#^listening on http://.*:\([0-9]*\)/$#\1#p' <<<"$line")
    starts+=("$(awk -v a="${t0/,/.}" -v b="${t1/,/.}" 'BEGIN {printf "%.3f", b - a}')")
    gens+=("$(sed -n 's/.* generated from seed .* in \([0-9.]*\) ms$/\1/p' "$OUT/d-$i.err")")
    hwm1+=("$(hwm_kb "$pid")")
    http_get "$port" '/graph/sample?n=1000' | grep -o '"[^"]*"' | tr -d '"' |
      grep -v '^page_ids$' | sed 's#^#/api/#' >"$OUT/paths-1m.txt"
    bounded timeout $((MEM_WRK + 15)) wrk -t1 -c50 -d"${MEM_WRK}s" -s bench/paths.lua "http://127.0.0.1:$port" \
      -- "$OUT/paths-1m.txt" >"$OUT/d-$i.wrk" 2>&1 || die "wrk failed (see $OUT/d-$i.wrk)"
    hwm2+=("$(hwm_kb "$pid")")
    echo "  run $i: listening after ${starts[-1]} s (graph ${gens[-1]} ms); VmHWM ${hwm1[-1]} kB, after wrk ${hwm2[-1]} kB;" \
      "$(awk '/^Requests\/sec:/ {print $2 " req/s"}' "$OUT/d-$i.wrk")" >>"$OUT/d.runs"
    stop_pid "$pid"
  done
  rm -f "$OUT/d.fifo"
  read -r sm slo shi <<<"$(stats "${starts[@]}")"
  read -r gm glo ghi <<<"$(stats "${gens[@]}")"
  read -r h1m h1lo h1hi <<<"$(stats "${hwm1[@]}")"
  read -r h2m h2lo h2hi <<<"$(stats "${hwm2[@]}")"
  mib() { awk -v v="$1" 'BEGIN {printf "%.1f", v / 1024}'; }
  say ""
  say "d) start-up and memory: crawlbench serve --pages 1000000 --port 0 ($MEM_RUNS run(s); median [min..max])"
  say "$(printf '  %-40s %s s  [%s..%s]' 'exec to "listening on"' "$sm" "$slo" "$shi")"
  say "$(printf '  %-40s %s ms  [%s..%s]' 'graph generation (server'"'"'s own figure)' "$gm" "$glo" "$ghi")"
  say "$(printf '  %-40s %s MiB  [%s..%s]' 'peak RSS when listening' "$(mib "$h1m")" "$(mib "$h1lo")" "$(mib "$h1hi")")"
  say "$(printf '  %-40s %s MiB  [%s..%s]' "peak RSS after ${MEM_WRK} s of wrk" "$(mib "$h2m")" "$(mib "$h2lo")" "$(mib "$h2hi")")"
  say "  targets: start-up under 5 s: $(awk -v v="$sm" 'BEGIN {print v < 5 ? "met" : "MISSED"}');" \
      "peak RSS under 256 MiB: $(awk -v v="$h2hi" 'BEGIN {print v < 256 * 1024 ? "met" : "MISSED"}')"
fi

for f in a b c d; do
  [ -s "$OUT/$f.runs" ] && { echo; echo "runs, section $f:"; cat "$OUT/$f.runs"; } >>"$SUMMARY"
done
echo
echo "per-run figures: $SUMMARY"
