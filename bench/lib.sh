# Helpers shared by bench/run.sh and bench/crawl.sh: their options, stopping only the processes we
# started, by PID, running time-bounded clients so that Ctrl-C is handled at once, and CPU
# accounting. Sourced; the caller defines OUT (a directory for scratch files) before calling
# children_cpu.

# ---- options ----

# Parses the options both scripts take: --quick, --section S[,S...] (repeatable), --help (the
# script's header comment). Sets QUICK and SECTIONS (",a,c"); exits 2 on a bad option or section.
bench_options() { # "all sections, space-separated" "$@"
  local all=$1 name="bench/${0##*/}" s
  shift
  QUICK=0
  SECTIONS=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --quick) QUICK=1 ;;
      --section) shift; SECTIONS+=",${1:-}" ;;
      --section=*) SECTIONS+=",${1#--section=}" ;;
      -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 && !/^# shellcheck/ {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
      *) echo "$name: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
  done
  [ -n "$SECTIONS" ] || SECTIONS=",${all// /,}"
  for s in ${SECTIONS//,/ }; do
    case " $all " in *" $s "*) ;; *) echo "$name: no section '$s' (one of: $all)" >&2; exit 2 ;; esac
  done
}
want() { case "$SECTIONS," in *",$1,"*) return 0 ;; esac; return 1; }

# ---- processes we start, and only those, are stopped by PID ----

# STARTED holds our children not yet reaped: until `wait` reaps one, its PID cannot be reused, so
# signalling it cannot hit another process. A PID leaves the list as soon as it is reaped.
STARTED=()
forget() { # pid: reaped, take it off the list
  local keep=() p
  for p in "${STARTED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}
stop_pid() { # pid: TERM, up to 5 s to exit, then KILL; then reap it
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 50); do
    [ "$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  forget "$pid"
  return 0
}
# Runs a time-bounded load (wrk, loadgen, a crawl) and waits for it. It runs in the background
# because `wait` returns as soon as a trapped signal arrives, whereas bash holds back Ctrl-C while
# a foreground child that catches SIGINT itself (wrk does) is running. Returns its exit status.
bounded() {
  local pid rc
  "$@" &
  pid=$!
  STARTED+=("$pid")
  wait "$pid"
  rc=$?
  forget "$pid"
  return "$rc"
}
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- CPU accounting ----

# Sets the variable named $1 to the CPU seconds used so far by this shell's reaped children and
# their reaped descendants (the second line of bash's `times`). `times` runs here, not in a
# subshell: a subshell's children are not ours.
children_cpu() {
  times >"$OUT/.times"
  printf -v "$1" '%s' "$(awk 'NR == 2 {split($1, u, /[ms]/); split($2, s, /[ms]/);
                                       printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2]}' "$OUT/.times")"
}
# Busy and total ticks of the whole machine, from the first line of /proc/stat.
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat; }

# Builds bench/loadgen.c into build/bench/loadgen (run.sh's latency runs, crawl.sh's connection burst).
LOADGEN=build/bench/loadgen
build_loadgen() {
  mkdir -p build/bench &&
    ${CC:-cc} -std=gnu17 -O2 -g -Wall -Wextra -Werror -Wshadow -Isrc -o "$LOADGEN" bench/loadgen.c src/base/fdlimit.c
}
