#!/usr/bin/env bash
# `make demo`: where the concurrency models differ, in one command. Runs `crawlbench compare --tour`:
# the latency-bound crawl, CPU-bound crawling at zero latency, a thousand connections, faults, and the
# CPU-bound analysis, each a short table and a lesson on the terminal and a report in build/demo/
# (the tour page: build/demo/report.html). Then shows the server's API with curl against a server on
# port 5000 (or a free port), and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./crawlbench
out=build/demo
mkdir -p "$out"

"$bin" compare --tour --out "$out"
echo

port=5000
if (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then port=0; fi
log=$(mktemp)
"$bin" serve --port "$port" --latency 20ms >"$log" 2>"$log.err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log" "$log.err"' EXIT
# The server prints its URL on stdout once it accepts connections; wait for that line.
for _ in $(seq 200); do grep -q listening "$log" && break; kill -0 $pid || { cat "$log.err"; exit 1; }; sleep 0.05; done
url=$(sed -n 's/^listening on \(.*\)\/$/\1/p' "$log")
echo "== the demo server's API ($url): the guide's routes, plus the audit and fault knobs"
echo "\$ curl $url/graph/random"
start=$(curl -s "$url/graph/random"); echo "$start"
id=$(echo "$start" | sed 's/.*"page_id":"\([^"]*\)".*/\1/')
echo "\$ curl $url/api/$id"
curl -s "$url/api/$id"; echo
echo "\$ curl -si '$url/api/$id?fault=503'   # a per-request fault, for tests"
curl -si "$url/api/$id?fault=503" | tr -d '\r' | sed -n '1p;/Retry-After/p;$p'; echo
echo
echo "Open $out/report.html for the tour: each regime's lesson and the chart that proves it."
echo "Run the server yourself: ./crawlbench serve   (the guide's clients work against http://localhost:5000)"
