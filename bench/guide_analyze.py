#!/usr/bin/python3
"""The Python concurrency guide's "Multiprocessing for CPU-intensive graph analysis" program, as the
guide writes it, for bench/analyze.sh's comparison with `crawlbench analyze --from URL`.

analyze_page_content and crawl_and_analyze_parallel below are copied from the guide
(shared/seed/python-concurrency-guide.md); the only change is that the guide's hard-coded
http://localhost:5000 comes in as an argument (it already was a parameter). The guide's own lines
("Fetching ...", "Analyzing ...", "Multiprocessing ...", "Total analysis score: ...") go to stderr.

usage: /usr/bin/python3 bench/guide_analyze.py BASE_URL [--workers N]
prints one JSON line: {"pages", "total_score", "elapsed_s"}, elapsed_s being the wall time of the
guide's function (fetching and analysing; interpreter start-up and imports excluded).
"""

import argparse
import contextlib
import json
import sys
import time

# ---- copied from the guide: Multiprocessing for CPU-intensive graph analysis ----

from concurrent.futures import ProcessPoolExecutor
import requests
import time

def analyze_page_content(page_data):
    """CPU-intensive analysis of page content"""
    page_id = page_data["page_id"]
    links = page_data["links"]

    # Simulate CPU-intensive work
    link_analysis = {}
    for link in links:
        link_id = link.split('/')[-1]
        # Simulate complex computation
        score = sum(ord(c) for c in link_id) * len(link_id)
        link_analysis[link_id] = score

    return {
        "page_id": page_id,
        "link_count": len(links),
        "total_score": sum(link_analysis.values()),
        "analysis": link_analysis
    }

def crawl_and_analyze_parallel(base_url, num_workers=4):
    """Fetch pages sequentially, then analyze in parallel"""
    # First, gather some pages
    sample = requests.get(f"{base_url}/graph/sample").json()
    pages_data = []

    print(f"Fetching {len(sample['page_ids'])} pages...")
    for page_id in sample["page_ids"][:20]:  # Limit for demo
        response = requests.get(f"{base_url}/api/{page_id}")
        pages_data.append(response.json())

    # Analyze pages in parallel
    print(f"Analyzing with {num_workers} processes...")
    start_time = time.time()

    with ProcessPoolExecutor(max_workers=num_workers) as executor:
        results = list(executor.map(analyze_page_content, pages_data))

    elapsed = time.time() - start_time
    total_score = sum(r["total_score"] for r in results)

    print(f"Multiprocessing ({num_workers} processes): Analyzed {len(results)} pages in {elapsed:.2f}s")
    print(f"Total analysis score: {total_score}")
    return results

# ---- end of the guide's code ----


def main():
    ap = argparse.ArgumentParser(description="Run the guide's analysis program and print a JSON line.")
    ap.add_argument("base_url")
    ap.add_argument("--workers", type=int, default=4)
    a = ap.parse_args()
    with contextlib.redirect_stdout(sys.stderr):
        t0 = time.perf_counter()
        results = crawl_and_analyze_parallel(a.base_url.rstrip("/"), a.workers)
        elapsed = time.perf_counter() - t0
    print(json.dumps({"pages": len(results), "total_score": sum(r["total_score"] for r in results),
                      "elapsed_s": elapsed}))


if __name__ == "__main__":
    main()
