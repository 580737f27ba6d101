#!/usr/bin/env bash
# Builds every libFuzzer target tests/fuzz/fuzz_<name>.c into build/fuzz/fuzz_<name>, with clang,
# libFuzzer, ASan and UBSan, linked against the project's library (the Makefile's fuzzer variant:
# the library compiled once, with -MMD dependencies, into build/fuzz/src/).
# Corpora live in tests/fuzz/corpus/<name>/, dictionaries in tests/fuzz/<name>.dict.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec make -s -j"$(nproc)" SANITIZER=fuzzer fuzz-bins
