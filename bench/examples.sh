#!/usr/bin/env bash
# The CPU-bound examples' speedups, for docs/BENCHMARKS.md ("Examples") and docs/GUIDE.md: each
# program runs ROUNDS times (default 7), the programs taking turns, pinned to CPUs 0 and 1 with
# taskset; each prints its own 1-thread and 2-thread (or packed and padded) timings from the same
# run, so every ratio is measured against a reference from the same moment. Prints median
# [min..max] of each ratio, and the machine's load before and after (the other tenants' work is
# the noise: a ratio above 1 needs both CPUs free at once).
# usage: bench/examples.sh   (ROUNDS=N to change the number of rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
make -s examples >/dev/null
E=build/examples
R=${ROUNDS:-7}
out=$(mktemp -d)
pin() { taskset -c 0,1 "$@"; }
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$R"); do
  w1=$(pin $E/02-threads/cpu_threads 4000000 1 | sed -n 's/.*wall \([0-9.]*\) s.*/\1/p')
  w2=$(pin $E/02-threads/cpu_threads 4000000 2 | sed -n 's/.*wall \([0-9.]*\) s.*/\1/p')
  echo "$w1 $w2" | awk '{print $1 / $2}' >>"$out/cpu_threads"
  w2=$(pin $E/03-processes/pool 4000000 2 | sed -n 's/.*wall \([0-9.]*\) s.*/\1/p')
  echo "$w1 $w2" | awk '{print $1 / $2}' >>"$out/pool"
  pin $E/07-parallel-map/parallel_map 4000000 2 | sed -n 's/.*speedup \([0-9.]*\)$/\1/p' >>"$out/parallel_map"
  pin $E/12-blocked-array/blocked 6000 1000 2 | sed -n 's/.*speedup \([0-9.]*\)$/\1/p' >>"$out/blocked"
  pin $E/pitfalls/false_sharing 50000000 2 | sed -n 's/.*slowdown \([0-9.]*\)x.*/\1/p' >>"$out/false_sharing"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); $R rounds"
/usr/bin/python3 - "$out" <<'PY'
import os, statistics, sys
d = sys.argv[1]
what = [("cpu_threads", "cpu_threads 4000000: 1 thread's wall / 2 threads' wall"),
        ("pool", "pool 4000000 2: cpu_threads' 1-thread wall / 2 processes' wall"),
        ("parallel_map", "parallel_map 4000000 2: 1 job / 2 jobs"),
        ("blocked", "blocked 6000 1000 2: 1 thread / 2 threads"),
        ("false_sharing", "false_sharing 50000000 2: one cache line / padded")]
print("| ratio | median | min..max |\n|---|---|---|")
for f, label in what:
    v = [float(x) for x in open(os.path.join(d, f)).read().split()]
    print("| %s | %.2f | %.2f..%.2f |" % (label, statistics.median(v), min(v), max(v)))
PY
rm -rf "$out"
