#!/usr/bin/env bash
# `make demo`: starts the demo server on the embedded default graph (1,000 pages, seed 42) with a
# realistic 20 ms latency, shows its API with curl, crawls it with the guide's own Python crawlers,
# then stops it. Port 5000 when free, else any free port.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./crawlbench
port=5000
if (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; then port=0; fi

out=$(mktemp)
"$bin" serve --port "$port" --latency 20ms >"$out" 2>"$out.err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out" "$out.err"' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; kill -0 $pid || { cat "$out.err"; exit 1; }; sleep 0.05; done
url=$(sed -n 's/^listening on \(.*\)\/$/\1/p' "$out")
cat "$out.err"
echo "server: $url (pid $pid)"
echo
echo "\$ curl $url/graph/random"
start=$(curl -s "$url/graph/random"); echo "$start"
id=$(echo "$start" | sed 's/.*"page_id":"\([^"]*\)".*/\1/')
echo "\$ curl $url/api/$id"
curl -s "$url/api/$id"; echo
echo "\$ curl '$url/graph/sample?n=5'"
curl -s "$url/graph/sample?n=5"; echo
echo "\$ curl -si '$url/api/$id?fault=503'   # a per-request fault, for tests"
curl -si "$url/api/$id?fault=503" | tr -d '\r' | sed -n '1p;/Retry-After/p;$p'; echo
echo
echo "The guide's crawlers against it (20 ms per page):"
/usr/bin/python3 scripts/demo_crawl.py "$url" 200
echo
echo "Run it yourself: ./crawlbench serve   (then the guide's examples against http://localhost:5000)"
