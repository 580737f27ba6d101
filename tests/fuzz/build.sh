#!/usr/bin/env bash
# Builds every libFuzzer target tests/fuzz/fuzz_<name>.c into build/fuzz/fuzz_<name>, with clang,
# libFuzzer, ASan and UBSan, linked against the project's library sources.
# Corpora live in tests/fuzz/corpus/<name>/, dictionaries in tests/fuzz/<name>.dict.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/fuzz
mkdir -p "$out"
lib=$(find src -name '*.c' -not -path 'src/cli/*' | sort)
flags=(-std=gnu17 -D_GNU_SOURCE -Isrc -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror
       -Wno-unused-parameter -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -pthread)
for f in tests/fuzz/fuzz_*.c; do
  name=$(basename "$f" .c)
  bin="$out/$name"
  # Rebuild only when a source is newer than the binary.
  if [ -x "$bin" ] && [ -z "$(find "$f" src -newer "$bin" -name '*.[ch]' -print -quit)" ]; then
    continue
  fi
  printf '    %-6s %s\n' FUZZ "$bin"
  clang "${flags[@]}" -o "$bin" "$f" $lib -lcurl -lcjson -lhiredis -lz -lm
done
