#!/usr/bin/python3
"""The Python concurrency guide's three demo-server crawlers, as the guide writes them, for bench/crawl.sh.

crawl_sequential, crawl_with_threading and crawl_with_asyncio below are copied from the guide's
"Practical Examples Using the Demo Server" section (shared/seed/python-concurrency-guide.md) with
their bugs left in: the sequential crawler opens a new connection per request and pops from the
front of a list; the threading crawler also opens a connection per request and hangs in
to_visit.join() if a worker raises anything but a RequestException; the asyncio crawler follows
only the links of the pages in the current batch of max_concurrent and drops the rest of to_visit,
so it stops long before it has seen the whole graph. Nothing in the functions is changed except
that the guide's hard-coded http://localhost:5000 and start page come in as arguments (they were
already parameters of the functions). The guide's own "Visited ... in ...s" lines go to stderr.

usage: /usr/bin/python3 bench/guide_crawlers.py sequential|threading|asyncio BASE_URL START_ID
                        [--max-pages K] [--concurrency N]
prints one JSON line: {"crawler", "concurrency", "max_pages", "start", "pages", "elapsed_s",
"cpu_s", "pages_per_s"}, where pages is len(visited) as the guide's function returns it, elapsed_s
is the wall time of the call (time.perf_counter) and cpu_s the CPU time of all its threads
(time.process_time), interpreter start-up and imports excluded from both.
"""

import argparse
import contextlib
import json
import sys
import time

# ---- copied from the guide: Sequential Web Crawling (Baseline) ----

import requests
import time

def crawl_sequential(base_url, start_page, max_pages=50):
    """Crawl pages sequentially - slowest approach"""
    visited = set()
    to_visit = [f"/api/{start_page}"]

    start_time = time.time()

    while to_visit and len(visited) < max_pages:
        current_path = to_visit.pop(0)
        if current_path in visited:
            continue

        visited.add(current_path)

        try:
            response = requests.get(f"{base_url}{current_path}")
            data = response.json()

            # Add linked pages to visit queue
            for link in data["links"]:
                if link not in visited:
                    to_visit.append(link)

        except requests.RequestException as e:
            print(f"Error fetching {current_path}: {e}")

    elapsed = time.time() - start_time
    print(f"Sequential: Visited {len(visited)} pages in {elapsed:.2f}s")
    return visited

# ---- copied from the guide: Threading for I/O-Bound Web Crawling ----

import requests
import threading
import time
from queue import Queue

def crawl_with_threading(base_url, start_page, max_pages=50, num_threads=5):
    """Crawl using threading - good for I/O-bound web requests"""
    visited = set()
    visited_lock = threading.Lock()
    to_visit = Queue()
    to_visit.put(f"/api/{start_page}")

    start_time = time.time()

    def worker():
        while True:
            try:
                current_path = to_visit.get(timeout=1)
            except:
                break

            with visited_lock:
                if current_path in visited or len(visited) >= max_pages:
                    to_visit.task_done()
                    continue
                visited.add(current_path)

            try:
                response = requests.get(f"{base_url}{current_path}")
                data = response.json()

                # Add new links to queue
                for link in data["links"]:
                    with visited_lock:
                        if link not in visited:
                            to_visit.put(link)

            except requests.RequestException as e:
                print(f"Error fetching {current_path}: {e}")

            to_visit.task_done()

    # Start worker threads
    threads = []
    for _ in range(num_threads):
        t = threading.Thread(target=worker)
        t.daemon = True
        t.start()
        threads.append(t)

    # Wait for completion
    to_visit.join()

    elapsed = time.time() - start_time
    print(f"Threading ({num_threads} threads): Visited {len(visited)} pages in {elapsed:.2f}s")
    return visited

# ---- copied from the guide: Async Web Crawling ----

import asyncio
import aiohttp
import time

async def crawl_with_asyncio(base_url, start_page, max_pages=50, max_concurrent=10):
    """Crawl using asyncio - excellent for many concurrent I/O operations"""
    visited = set()
    to_visit = [f"/api/{start_page}"]
    semaphore = asyncio.Semaphore(max_concurrent)

    start_time = time.time()

    async def fetch_page(session, path):
        async with semaphore:
            if path in visited or len(visited) >= max_pages:
                return []

            visited.add(path)

            try:
                async with session.get(f"{base_url}{path}") as response:
                    data = await response.json()
                    return data["links"]
            except Exception as e:
                print(f"Error fetching {path}: {e}")
                return []

    async with aiohttp.ClientSession() as session:
        while to_visit and len(visited) < max_pages:
            # Process current batch
            tasks = [fetch_page(session, path) for path in to_visit[:max_concurrent]]
            results = await asyncio.gather(*tasks, return_exceptions=True)

            # Collect new links
            new_links = []
            for result in results:
                if isinstance(result, list):
                    new_links.extend(result)

            # Update to_visit with unvisited links
            to_visit = [link for link in new_links if link not in visited]

    elapsed = time.time() - start_time
    print(f"Asyncio ({max_concurrent} concurrent): Visited {len(visited)} pages in {elapsed:.2f}s")
    return visited

# ---- the harness (not from the guide) ----


def main():
    ap = argparse.ArgumentParser(description="Run one of the guide's crawlers and print a JSON line.")
    ap.add_argument("crawler", choices=["sequential", "threading", "asyncio"])
    ap.add_argument("base_url", help="e.g. http://127.0.0.1:5000 (no trailing slash)")
    ap.add_argument("start", help="start page id")
    ap.add_argument("--max-pages", type=int, default=50, help="the guide's max_pages (default 50)")
    ap.add_argument("--concurrency", type=int, default=None,
                    help="num_threads / max_concurrent (default: the guide's 5 / 10; ignored by sequential)")
    args = ap.parse_args()
    base_url = args.base_url.rstrip("/")

    if args.crawler == "sequential":
        conc = 1
        run = lambda: crawl_sequential(base_url, args.start, args.max_pages)
    elif args.crawler == "threading":
        conc = args.concurrency or 5
        run = lambda: crawl_with_threading(base_url, args.start, args.max_pages, conc)
    else:
        conc = args.concurrency or 10
        run = lambda: asyncio.run(crawl_with_asyncio(base_url, args.start, args.max_pages, conc))

    # The guide's functions print their own summary (and errors) to stdout; stdout is kept for JSON.
    with contextlib.redirect_stdout(sys.stderr):
        t0, c0 = time.perf_counter(), time.process_time()
        visited = run()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({
        "crawler": args.crawler,
        "concurrency": conc,
        "max_pages": args.max_pages,
        "start": args.start,
        "pages": len(visited),
        "elapsed_s": round(elapsed, 6),
        "cpu_s": round(cpu, 6),
        "pages_per_s": round(len(visited) / elapsed, 3) if elapsed > 0 else 0,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
