"""The guide's sequential and threaded crawlers, written the way the guide writes them, run against
the crawlbench demo server: what `make demo` shows until `crawlbench compare` takes its place."""
import sys
import threading
import time
from queue import Queue, Empty

import requests


def crawl_sequential(base_url, start_page, max_pages):
    visited, to_visit = set(), [f"/api/{start_page}"]
    session = requests.Session()
    while to_visit and len(visited) < max_pages:
        path = to_visit.pop(0)
        if path in visited:
            continue
        visited.add(path)
        for link in session.get(f"{base_url}{path}").json()["links"]:
            if link not in visited:
                to_visit.append(link)
    return visited


def crawl_threads(base_url, start_page, max_pages, num_threads):
    visited, lock, queue = set(), threading.Lock(), Queue()
    queue.put(f"/api/{start_page}")

    def worker():
        session = requests.Session()
        while True:
            try:
                path = queue.get(timeout=0.5)
            except Empty:
                return
            with lock:
                fresh = path not in visited and len(visited) < max_pages
                if fresh:
                    visited.add(path)
            if fresh:
                for link in session.get(f"{base_url}{path}").json()["links"]:
                    with lock:
                        if link not in visited:
                            queue.put(link)
            queue.task_done()

    threads = [threading.Thread(target=worker) for _ in range(num_threads)]
    for t in threads:
        t.start()
    queue.join()
    for t in threads:
        t.join()
    return visited


def main():
    base_url = sys.argv[1]
    max_pages = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    start = requests.get(f"{base_url}/graph/random").json()["page_id"]
    print(f"start page: {start}, crawling up to {max_pages} pages")
    for name, crawl in [("sequential", lambda: crawl_sequential(base_url, start, max_pages)),
                        ("threads x10", lambda: crawl_threads(base_url, start, max_pages, 10))]:
        requests.post(f"{base_url}/graph/stats/reset")
        t0 = time.time()
        pages = crawl()
        elapsed = time.time() - t0
        audit = requests.get(f"{base_url}/graph/stats").json()["audit"]
        print(f"  {name:12} {len(pages):5d} pages in {elapsed:6.2f}s  ({len(pages) / elapsed:7.1f} pages/s)"
              f"   server audit: {audit['pages_served']} served, {audit['duplicate_fetches']} duplicates")


if __name__ == "__main__":
    main()
