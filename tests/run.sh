#!/usr/bin/env bash
# The whole test suite, as `make test` runs it. Each stage prints its own results; the last line is
# the total, "N passed, N failed". Stages: release, ASan+UBSan and TSan builds; unit tests
# (Criterion) under ASan+UBSan; integration tests against the ASan+UBSan server, and the concurrent
# ones again against the TSan server; fuzz targets replaying their corpora.
#
# Why no Criterion under TSan: Criterion's BoxFort arena cannot be mapped under TSan's memory layout
# ("Could not initialize inheritable arena", Criterion issue #274, open). Threaded code is therefore
# checked by TSan through the real binaries, driven by the concurrent integration tests.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
passed=0
failed=0
failures=()

t_stage=$SECONDS
stage() { printf '\n== %s   (%d s so far)\n' "$*" "$((SECONDS - t_stage))"; }
record() { # name, exit status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# Integration tests whose clients are concurrent, run a second time against the TSan server.
TSAN_INTEGRATION="test_guide_clients.py test_crawl.py test_crawl_exits.py test_signals.py test_compare.py test_analyze.py test_distributed.py"

stage "layers (src/LAYERS: every #include points to a lower layer)"
/usr/bin/python3 tests/layers.py
record "layers" $?

stage "build (release, ASan+UBSan, TSan, examples)"
make -s -j"$jobs" all || { echo "release build failed"; echo "0 passed, 1 failed"; exit 1; }
make -s -j"$jobs" SANITIZER=address all unit-bins || { echo "ASan build failed"; echo "0 passed, 1 failed"; exit 1; }
make -s -j"$jobs" SANITIZER=thread all || { echo "TSan build failed"; echo "0 passed, 1 failed"; exit 1; }
# The teaching programs (examples/examples.mk), run by tests/integration/test_examples.py.
make -s -j"$jobs" examples || { echo "examples build failed"; echo "0 passed, 1 failed"; exit 1; }

stage "unit tests (ASan+UBSan)"
for t in build/asan/tests/test_*; do
  [ -x "$t" ] || continue
  "$t" --jobs=1 --timeout=120
  rc=$? # first: a $(...) in record's arguments would reset $? before it is read
  record "unit/$(basename "$t")" $rc
done

stage "integration tests (ASan+UBSan server)"
for t in tests/integration/test_*.sh tests/integration/test_*.py; do
  [ -e "$t" ] || continue
  case "$t" in
    *.py) CRAWLBENCH=build/asan/crawlbench timeout 300 /usr/bin/python3 "$t" ;;
    *.sh) CRAWLBENCH=build/asan/crawlbench timeout 300 bash "$t" ;;
  esac
  rc=$?
  record "integration/$(basename "$t")" $rc
done

stage "integration tests (TSan server, the concurrent ones)"
for t in $TSAN_INTEGRATION; do
  [ -e "tests/integration/$t" ] || { echo "missing tests/integration/$t"; record "tsan/$t" 1; continue; }
  CRAWLBENCH=build/tsan/crawlbench CRAWLBENCH_PASS=tsan timeout 300 /usr/bin/python3 "tests/integration/$t"
  record "tsan/$t" $?
done

stage "fuzz targets replaying their corpora"
if tests/fuzz/build.sh; then
  for f in build/fuzz/fuzz_*; do
    name=$(basename "$f"); name=${name#fuzz_}
    corpus=tests/fuzz/corpus/$name
    [ -d "$corpus" ] || { echo "no corpus for $name"; record "fuzz/$name" 1; continue; }
    "$f" -runs=0 "$corpus" >/tmp/crawlbench-fuzz-$name.log 2>&1
    rc=$?
    [ $rc -eq 0 ] && echo "fuzz_$name: $(ls "$corpus" | wc -l) inputs ok" || tail -20 /tmp/crawlbench-fuzz-$name.log
    record "fuzz/$name" $rc
  done
else
  record "fuzz/build" 1
fi

echo
echo "suite: $((SECONDS - t_stage)) s"
if [ ${#failures[@]} -gt 0 ]; then printf 'FAILED: %s\n' "${failures[@]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
