#!/usr/bin/env bash
# Reruns the commands behind the figures of docs/GUIDE.md and prints them, section by section, so
# that anyone can regenerate the guide's numbers on their own machine (`make guide-figures`).
# Builds what it needs first (release crawlbench, examples). Servers it starts listen on 127.0.0.1
# only, on free ports, and are stopped by their PID. About 2 minutes; set QUICK=1 for a short check
# that runs every command at small sizes (its numbers mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all examples >/dev/null
E=build/examples
Q=${QUICK:-0}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

serve() { # starts ./crawlbench serve with the given options; sets URL and PORT
  local out; out=$(mktemp)
  ./crawlbench serve --port 0 --threads 2 "$@" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
  URL=$(sed -n 's/^listening on //p' "$out"); PORT=${URL##*:}; PORT=${PORT%/}
  rm -f "$out"
  [ -n "$URL" ] || { echo "guide-figures: the server did not start" >&2; exit 1; }
}
show() { printf '$ %s\n' "$*"; "$@"; echo; }

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== 1. the nine crawl models (compare: embedded server, 20 ms latency)"
if [ "$Q" = 1 ]; then show ./crawlbench compare --max-pages 20 --repeat 1 --warmup 0 --out "$(mktemp -d)" --no-progress
else show ./crawlbench compare --max-pages 200 --repeat 3 --out "$(mktemp -d)" --no-progress; fi

echo "== 2. I/O-bound: ten 200 ms pages, one after another and at once"
serve --latency 200ms
show $E/01-sequential/sequential "$URL" 10
show $E/02-threads/threads "$URL" 10
show $E/04-event-loop/event_loop "$PORT" 10
show $E/11-green-threads/green "$PORT" 10

N=$([ "$Q" = 1 ] && echo 200000 || echo 4000000)
echo "== 3. CPU-bound: no GIL (threads) and fork (processes)"
show $E/02-threads/cpu_threads "$N" 1
show $E/02-threads/cpu_threads "$N" 2
show $E/03-processes/pool "$N" 2
show $E/07-parallel-map/parallel_map "$N" 2
if [ "$Q" = 1 ]; then show $E/12-blocked-array/blocked 1000 250 2; else show $E/12-blocked-array/blocked 10000 1000 2; fi
show $E/13-remote-tasks/pi_driver $((N / 4)) 8

echo "== 4. CPU-bound analysis: PageRank with threads, processes and OpenMP (crawlbench analyze)"
A=$([ "$Q" = 1 ] && echo 20000 || echo 1000000)
show ./crawlbench analyze --pages "$A" --tolerance 1e-300 --max-iter 20 --top 3 --repeat 3 \
  --sweep workers=1,2 --svg "$(mktemp -d)/analyze-sweep.svg"
serve
show ./crawlbench analyze --from "$URL" --model processes --workers 2 --top 3

echo "== 5. pitfalls"
show $E/pitfalls/race
show $E/pitfalls/false_sharing $((N * 10)) 2
show $E/pitfalls/blocking_loop 300
show $E/pitfalls/blocking_loop_fixed 300
serve
S=$(curl -s "${URL}graph/random" | sed 's/.*"page_id":"\([^"]*\)".*/\1/')
echo "reachable from $S: $(./crawlbench graph --reachable-from "$S" | wc -l) pages"
show $E/pitfalls/guide_asyncio "$URL" "$S"
show $E/pitfalls/guide_asyncio_fixed "$URL" "$S"
show $E/pitfalls/guide_futures "$URL" "$S" 50
show $E/pitfalls/guide_futures_fixed "$URL" "$S" 50
if [ "$Q" != 1 ]; then # the graph of BENCHMARKS.md part z, where the guide's Python finds 7,038 of 8,955
  serve --pages 10000
  echo "reachable from ToCg8m4F: $(./crawlbench graph --pages 10000 --reachable-from ToCg8m4F | wc -l) pages"
  show $E/pitfalls/guide_asyncio "$URL" ToCg8m4F 10000000 100
  show $E/pitfalls/guide_asyncio_fixed "$URL" ToCg8m4F 10000000 100
fi
