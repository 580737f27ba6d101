#!/usr/bin/env bash
# Builds every libFuzzer target tests/fuzz/fuzz_<name>.c into build/fuzz/fuzz_<name>, with clang,
# libFuzzer, ASan and UBSan, linked against the project's library sources.
# Corpora live in tests/fuzz/corpus/<name>/, dictionaries in tests/fuzz/<name>.dict.
# The library is compiled once (fuzzer-no-link: coverage instrumentation without libFuzzer's main),
# in parallel, into build/fuzz/obj/, and every target links against those objects: compiling the
# whole library again for each target took most of the suite's fuzz stage.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/fuzz
obj=$out/obj
mkdir -p "$obj"
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
flags=(-std=gnu17 -D_GNU_SOURCE -Isrc -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror
       -Wno-unused-parameter "${san[@]}" -pthread)
lib=$(find src -name '*.c' -not -path 'src/cli/*' | sort)

# The library's objects: all again when any source or header is newer than the stamp (headers
# make finer tracking not worth it here), in parallel.
stamp=$obj/.stamp
if [ ! -e "$stamp" ] || [ -n "$(find src -newer "$stamp" -name '*.[ch]' -print -quit)" ]; then
  printf '    %-6s %s\n' FUZZ "$obj (the library)"
  rm -f "$obj"/*.o
  printf '%s\n' $lib | xargs -P "$(nproc)" -I{} sh -c \
    'clang "$@" -fsanitize=fuzzer-no-link -c {} -o "'"$obj"'/$(echo {} | tr / _).o"' clang "${flags[@]}"
  touch "$stamp"
fi

for f in tests/fuzz/fuzz_*.c; do
  name=$(basename "$f" .c)
  bin="$out/$name"
  # Relink when the target's source or the library is newer than the binary.
  if [ -x "$bin" ] && [ "$f" -ot "$bin" ] && [ "$stamp" -ot "$bin" ]; then
    continue
  fi
  printf '    %-6s %s\n' FUZZ "$bin"
  clang "${flags[@]}" -fsanitize=fuzzer -o "$bin" "$f" "$obj"/*.o -lcurl -lcjson -lhiredis -lz -lm
done
