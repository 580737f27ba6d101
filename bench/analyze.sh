#!/usr/bin/env bash
# Benchmarks of `crawlbench analyze` (docs/ANALYZE.md, docs/BENCHMARKS.md "analyze"): sequential
# PageRank on a generated graph in ns per link per iteration beside the GAP Benchmark Suite's pr and
# pr_spmv on exactly the same graph (exported with `graph --edges`), measured in the same rounds,
# interleaved; what each technique buys (page order, prefetch, huge pages; gapbs with huge pages
# too); 2 workers against 1 for threads,
# openmp and processes (gapbs pr with 2 threads beside them), and at 2 workers a first run (workers
# started or forked, memory first touched) beside the fastest, and runs with CPU 0 shared with a busy
# process (`yes`), where taking chunks in turn lets the worker on CPU 1 do more; peak RSS and bytes
# per link.
#
# usage: bench/analyze.sh [--pages N] [--rounds R] [--iters I] [--repeat K] [--quick]
#   --pages N    pages of the generated graph (default 1000000, out-degree 8, seed 42)
#   --rounds R   interleaved rounds; each figure is the median with its range (default 5)
#   --iters I    PageRank iterations per run (tolerance 1e-300, so every run does exactly I; default 20)
#   --repeat K   PageRank runs per process, the fastest kept, for us and gapbs alike (default 5)
#   --quick      100000 pages, 3 rounds
# Environment: CRAWLBENCH (default ./crawlbench), GAPBS (a gapbs checkout, default /tmp/gapbs; cloned
# and built there when missing, never inside the repository), CPU (the CPU to pin one worker to, 1).
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=1000000 ROUNDS=5 ITERS=20 REPEAT=5
while [ $# -gt 0 ]; do
  case "$1" in
    --pages) PAGES=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --iters) ITERS=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --quick) PAGES=100000 ROUNDS=3 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/analyze.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
CB=${CRAWLBENCH:-./crawlbench}
GAPBS=${GAPBS:-/tmp/gapbs}
CPU=${CPU:-1}
OUT=$(mktemp -d /tmp/crawlbench-analyze-bench.XXXXXX)
HOG=""
trap 'rm -rf "$OUT"; thp_restore; [ -z "$HOG" ] || kill "$HOG" 2>/dev/null' EXIT
[ -x "$CB" ] || { echo "bench/analyze.sh: no $CB (run make)" >&2; exit 1; }

if [ ! -x "$GAPBS/pr" ] || [ ! -x "$GAPBS/pr_spmv" ]; then
  if [ ! -d "$GAPBS" ]; then git clone -q https://github.com/sbeamer/gapbs "$GAPBS" || true; fi
  [ -d "$GAPBS" ] && make -s -C "$GAPBS" pr pr_spmv >/dev/null 2>&1 || true
fi
HAVE_GAPBS=0
[ -x "$GAPBS/pr" ] && [ -x "$GAPBS/pr_spmv" ] && HAVE_GAPBS=1

"$CB" graph --pages "$PAGES" --seed 42 --out-degree 8 --edges "$OUT/g.el" >/dev/null
grep -v '^#' "$OUT/g.el" > "$OUT/g_plain.el" # gapbs reads bare "u v" lines
EDGES=$(wc -l < "$OUT/g_plain.el")

# ns per link per iteration of one analyze run (the fastest of REPEAT PageRank runs in the process).
ours() { # taskset-cpus, analyze options...
  local cpus=$1; shift
  taskset -c "$cpus" "$CB" analyze --pages "$PAGES" --seed 42 --out-degree 8 --tolerance 1e-300 \
    --max-iter "$ITERS" --repeat "$REPEAT" --top 0 --json "$@" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ns_per_edge_iteration"])'
}
# The same figure for gapbs (fastest of REPEAT trials, load excluded).
gap() { # taskset-cpus, threads, binary
  OMP_NUM_THREADS=$2 taskset -c "$1" "$GAPBS/$3" -f "$OUT/g_plain.el" -n "$REPEAT" -i "$ITERS" -t 1e-30 |
    awk -v m="$EDGES" -v it="$ITERS" '/Trial Time/ {t = $3; if (best == "" || t < best) best = t}
                                       END {printf "%.4f\n", best * 1e9 / (m * it)}'
}
record() { echo "$1 $2" >> "$OUT/results"; } # name value
# Runs a command while a busy process shares CPU 0 (the scheduler gives each about half of it).
cpu0_busy() {
  taskset -c 0 yes > /dev/null &
  HOG=$!
  "$@"
  kill "$HOG"
  wait "$HOG" 2>/dev/null || true
  HOG=""
}
# Runs a command with a transparent-huge-page setting changed (enabled: always, madvise, never;
# shmem_enabled: advise, never, ...), then restores the machine's. We ask for huge pages with
# madvise; gapbs does not, so "enabled=always" is gapbs with them too: the fair reference for a
# technique the other code could have by a system setting. (Shared memory, the processes model's,
# gets them by MADV_COLLAPSE whatever shmem_enabled says; see src/analyze/exec.c.)
THP=/sys/kernel/mm/transparent_hugepage
HAVE_THP=0
[ -w "$THP/enabled" ] && [ -w "$THP/shmem_enabled" ] && HAVE_THP=1
thp_mode() { sed 's/.*\[\(.*\)\].*/\1/' "$THP/$1"; }
[ $HAVE_THP = 1 ] && THP_WAS="$(thp_mode enabled) $(thp_mode shmem_enabled)"
thp_restore() { [ "${HAVE_THP:-0}" = 0 ] || { set -- $THP_WAS; echo "$1" > "$THP/enabled"; echo "$2" > "$THP/shmem_enabled"; }; }
thp() { # file, mode, command...
  local file=$1 mode=$2; shift 2
  echo "$mode" > "$THP/$file"
  "$@"
  thp_restore
}

for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  record "seq" "$(ours "$CPU")"
  record "seq-natural" "$(ours "$CPU" --order natural)"
  record "seq-prefetch16" "$(ours "$CPU" --prefetch 16)"
  record "seq-natural-prefetch16" "$(ours "$CPU" --order natural --prefetch 16)"
  if [ $HAVE_THP = 1 ]; then record "seq-smallpages" "$(thp enabled never ours "$CPU")"; fi
  for m in threads openmp processes; do
    record "$m-1" "$(ours 0,1 --model "$m" --workers 1)"
    record "$m-2" "$(ours 0,1 --model "$m" --workers 2)"
    record "$m-2-first" "$(ours 0,1 --model "$m" --workers 2 --repeat 1)"
    record "$m-2-cpu0busy" "$(cpu0_busy ours 0,1 --model "$m" --workers 2)"
  done
  if [ $HAVE_GAPBS = 1 ]; then
    record "gapbs-pr" "$(gap "$CPU" 1 pr)"
    record "gapbs-pr_spmv" "$(gap "$CPU" 1 pr_spmv)"
    if [ $HAVE_THP = 1 ]; then
      record "gapbs-pr-thp" "$(thp enabled always gap "$CPU" 1 pr)"
      record "gapbs-pr_spmv-thp" "$(thp enabled always gap "$CPU" 1 pr_spmv)"
    fi
    record "gapbs-pr-1" "$(gap 0,1 1 pr)"
    record "gapbs-pr-2" "$(gap 0,1 2 pr)"
  fi
done

# The guide's own flow on the demo server's default graph: its Python program (20 pages fetched, then a
# ProcessPoolExecutor of 4) against `analyze --from` (every reachable page crawled, then analysed).
"$CB" serve --port 0 --threads 2 > "$OUT/serve.out" 2>/dev/null &
SERVE_PID=$!
trap 'kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; rm -rf "$OUT"; thp_restore' EXIT
for _ in $(seq 100); do grep -q listening "$OUT/serve.out" && break; sleep 0.1; done
URL=$(awk '/listening/ {print $3}' "$OUT/serve.out")
for r in $(seq "$ROUNDS"); do
  record "guide-python" "$(/usr/bin/python3 bench/guide_analyze.py "$URL" 2>/dev/null |
                           python3 -c 'import json,sys; print(json.load(sys.stdin)["elapsed_s"])')"
  record "guide-ours" "$(python3 -c 'import subprocess,sys,time; t=time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); print(time.perf_counter() - t)' \
                         "$CB" analyze --from "$URL" --model processes --workers 4)"
done
GUIDE_PAGES=$("$CB" analyze --from "$URL" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pages"])')

RSS=$("$CB" analyze --pages "$PAGES" --seed 42 --out-degree 8 --top 0 --json |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["peak_rss_bytes"], d["edges"], d["pgraph_bytes"])')

python3 - "$OUT/results" "$PAGES" "$EDGES" "$ITERS" "$ROUNDS" "$HAVE_GAPBS" "$GUIDE_PAGES" $RSS <<'PY'
import collections, statistics, sys
path, pages, edges, iters, rounds, have_gap, guide_pages, rss, m, pgb = sys.argv[1:]
v = collections.defaultdict(list)
for line in open(path):
    k, x = line.split()
    v[k].append(float(x))
med = {k: statistics.median(x) for k, x in v.items()}
def cell(k):
    x = v[k]
    return "%.3f (%.3f–%.3f)" % (med[k], min(x), max(x))
print("graph: %s pages, %s links, seed 42, out-degree 8; %s iterations; %s rounds, medians (ranges)" % (pages, edges, iters, rounds))
print()
print("| run | ns per link per iteration | ratio |")
print("|---|---|---|")
ref = "gapbs-pr_spmv" if have_gap == "1" else "seq"
rows = ["seq", "seq-smallpages", "seq-prefetch16", "seq-natural", "seq-natural-prefetch16"]
if have_gap == "1":
    rows += ["gapbs-pr", "gapbs-pr_spmv", "gapbs-pr-thp", "gapbs-pr_spmv-thp"]
for k in [r for r in rows if r in v]:
    print("| %s | %s | %.2fx of %s |" % (k, cell(k), med[ref] / med[k], ref))
print()
print("| model | 1 worker | 2 workers | speedup (median of ratios per round) |")
print("|---|---|---|---|")
pairs = [("threads", "threads-1", "threads-2"), ("openmp", "openmp-1", "openmp-2"), ("processes", "processes-1", "processes-2")]
if have_gap == "1":
    pairs.append(("gapbs pr", "gapbs-pr-1", "gapbs-pr-2"))
for name, a, b in pairs:
    ratios = [x / y for x, y in zip(v[a], v[b])]
    print("| %s | %s | %s | %.2fx (%.2f–%.2f) |" % (name, cell(a), cell(b), statistics.median(ratios), min(ratios), max(ratios)))
print()
for a, b, what in [("processes-2", "threads-2", "fastest run"), ("openmp-2", "threads-2", "fastest run"),
                   ("processes-2-first", "threads-2-first", "first run")]:
    pt = [x / y for x, y in zip(v[a], v[b])]
    print("%s / %s (%s; median of per-round ratios): %.2f (%.2f–%.2f)" % (a, b, what, statistics.median(pt), min(pt), max(pt)))
print("first runs at 2 workers: threads %s, openmp %s, processes %s" % (cell("threads-2-first"), cell("openmp-2-first"), cell("processes-2-first")))
print("2 workers with CPU 0 shared with a busy process (ideal: 1.5x a worker alone on CPU 1):")
for m in ["threads", "openmp", "processes"]:
    k = m + "-2-cpu0busy"
    ratios = [x / y for x, y in zip(v["seq"], v[k])]
    print("  %s: %s, %.2fx sequential (median of per-round ratios; %.2f–%.2f)" % (m, cell(k), statistics.median(ratios), min(ratios), max(ratios)))
print("guide's flow, seconds: Python program (20 pages, ProcessPoolExecutor of 4) %s; analyze --from (%s pages crawled and analysed, processes x4) %s; %.1fx"
      % (cell("guide-python"), guide_pages, cell("guide-ours"), med["guide-python"] / med["guide-ours"]))
print("peak RSS (sequential, whole run incl. generation): %.1f MiB, %.1f bytes per link; PageRank arrays %.1f bytes per link"
      % (int(float(rss)) / 2**20, float(rss) / float(m), float(pgb) / float(m)))
PY
