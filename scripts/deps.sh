#!/usr/bin/env bash
# Installs the Debian packages crawlbench needs, and only those that are missing.
# Called by `make test`, `make demo` and `make bench`; safe to run again (it does nothing when all is there).
# Usage: scripts/deps.sh [build|test|bench|demo]...   (default: build test)
set -euo pipefail

build_pkgs=(gcc make pkg-config zlib1g-dev libcurl4-openssl-dev libcjson-dev libhiredis-dev)
test_pkgs=(clang libclang-rt-14-dev libcriterion-dev python3 python3-requests python3-aiohttp
           python3-requests-futures python3-jsonschema curl wrk procps chromium
           libhiredis-dev redis-server redis-tools  # examples/08-task-queue, the distributed crawl
           python3-networkx python3-scipy)  # analyze's PageRank checked against networkx
bench_pkgs=(wrk nginx-light procps util-linux curl linux-perf hyperfine git g++ redis-server)
demo_pkgs=(curl)

want=()
[ $# -eq 0 ] && set -- build test
for set_name in "$@"; do
  case "$set_name" in
    build) want+=("${build_pkgs[@]}") ;;
    test)  want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    demo)  want+=("${build_pkgs[@]}" "${demo_pkgs[@]}") ;;
    *) echo "deps.sh: unknown set '$set_name' (expected build, test, bench or demo)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# De-duplicate while keeping order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "deps.sh: these Debian packages are missing: ${missing[*]}" >&2
  echo "deps.sh: run as root, or install sudo, or install them yourself: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/crawlbench-apt.log 2>&1; then
  tail -20 /tmp/crawlbench-apt.log >&2
  echo "deps.sh: apt-get install failed (full log: /tmp/crawlbench-apt.log)" >&2
  exit 1
fi
