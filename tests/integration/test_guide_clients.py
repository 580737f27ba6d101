"""The guide's clients against the server: crawlers written the way the guide writes its examples
(sequential requests, threading with a Queue and a Lock, asyncio with aiohttp, requests-futures,
ProcessPoolExecutor over /graph/sample), plus curl and wrk. Each must find exactly the pages
reachable from its start page, every fetch must answer 200, and the server's audit must agree."""
import asyncio
import os
import re
import subprocess
import tempfile
import threading
import unittest
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from queue import Empty, Queue

import aiohttp
import requests
from requests_futures.sessions import FuturesSession

import harness
from harness import RawConn, Server

PAGES = 300


# ---- the clients, in the guide's style (its crawlers, made to visit every reachable page) ----

def crawl_sequential(base_url, start_page, max_pages=50):
    """Sequential crawl with requests, breadth-first (the guide's crawl_sequential)."""
    visited = set()
    statuses = {}
    to_visit = [f"/api/{start_page}"]
    while to_visit and len(visited) < max_pages:
        current_path = to_visit.pop(0)
        if current_path in visited:
            continue
        visited.add(current_path)
        response = requests.get(f"{base_url}{current_path}", timeout=10)  # a connection per request
        statuses[current_path] = response.status_code
        data = response.json()
        for link in data["links"]:
            if link not in visited:
                to_visit.append(link)
    return visited, statuses


def crawl_with_threading(base_url, start_page, max_pages=50, num_threads=5):
    """Threads sharing a Queue of paths and a Lock-protected visited set (the guide's crawler)."""
    visited = set()
    statuses = {}
    errors = []
    visited_lock = threading.Lock()
    to_visit = Queue()
    to_visit.put(f"/api/{start_page}")

    def worker():
        session = requests.Session()
        while True:
            try:
                current_path = to_visit.get(timeout=0.5)
            except Empty:
                break
            with visited_lock:
                if current_path in visited or len(visited) >= max_pages:
                    to_visit.task_done()
                    continue
                visited.add(current_path)
            try:
                response = session.get(f"{base_url}{current_path}", timeout=10)
                data = response.json()
                with visited_lock:
                    statuses[current_path] = response.status_code
                    for link in data["links"]:
                        if link not in visited:
                            to_visit.put(link)
            except Exception as e:  # recorded, and the test fails on it
                errors.append((current_path, repr(e)))
            to_visit.task_done()
        session.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(num_threads)]
    for t in threads:
        t.start()
    to_visit.join()
    for t in threads:
        t.join(10)
    return visited, statuses, errors


async def crawl_with_asyncio(base_url, start_page, max_pages=50, max_concurrent=10):
    """Batches of aiohttp requests gathered under a Semaphore (the guide's asyncio crawler; every
    link of a batch is followed, not only the first max_concurrent)."""
    visited = set()
    statuses = {}
    to_visit = [f"/api/{start_page}"]
    semaphore = asyncio.Semaphore(max_concurrent)

    async def fetch_page(session, path):
        async with semaphore:
            if path in visited or len(visited) >= max_pages:
                return []
            visited.add(path)
            async with session.get(f"{base_url}{path}") as response:
                statuses[path] = response.status
                data = await response.json()
                return data["links"]

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while to_visit and len(visited) < max_pages:
            tasks = [fetch_page(session, path) for path in to_visit]
            results = await asyncio.gather(*tasks)
            new_links = [link for links in results for link in links]
            to_visit = list(dict.fromkeys(link for link in new_links if link not in visited))
    return visited, statuses


def crawl_with_requests_futures(base_url, start_page, max_pages=50):
    """Batches of 5 FuturesSession requests (the guide's requests-futures crawler)."""
    session = FuturesSession(max_workers=5)
    visited = set()
    statuses = {}
    to_visit = [f"/api/{start_page}"]
    while to_visit and len(visited) < max_pages:
        futures = []
        current_batch = to_visit[:5]
        to_visit = to_visit[5:]
        for path in current_batch:
            if path not in visited:
                visited.add(path)
                futures.append((path, session.get(f"{base_url}{path}", timeout=10)))
        for path, future in futures:
            response = future.result(timeout=10)
            statuses[path] = response.status_code
            for link in response.json()["links"]:
                if link not in visited:
                    to_visit.append(link)
    session.close()
    return visited, statuses


def analyze_page_content(page_data):
    """CPU work on one page (the guide's analysis): a score per link id."""
    links = page_data["links"]
    link_analysis = {}
    for link in links:
        link_id = link.split("/")[-1]
        link_analysis[link_id] = sum(ord(c) for c in link_id) * len(link_id)
    return {"page_id": page_data["page_id"], "link_count": len(links),
            "total_score": sum(link_analysis.values()), "analysis": link_analysis}


def crawl_and_analyze_parallel(base_url, num_workers=2):
    """Fetch the /graph/sample pages sequentially, analyze them in worker processes."""
    sample = requests.get(f"{base_url}/graph/sample", timeout=10).json()
    pages_data = []
    with requests.Session() as session:
        for page_id in sample["page_ids"]:
            response = session.get(f"{base_url}/api/{page_id}", timeout=10)
            response.raise_for_status()
            pages_data.append(response.json())
    with ProcessPoolExecutor(max_workers=num_workers) as executor:
        results = list(executor.map(analyze_page_content, pages_data))
    return sample["page_ids"], pages_data, results


def reachable_pages(port, start_page):
    """The reference: a breadth-first search over the server's own /api answers, on one raw
    keep-alive connection, independent of every client under test."""
    seen = {f"/api/{start_page}"}
    queue = deque(seen)
    with RawConn(port) as c:
        while queue:
            path = queue.popleft()
            c.get(path)
            r = c.read_response()
            assert r.status == 200, (path, r)
            for link in r.json()["links"]:
                if link not in seen:
                    seen.add(link)
                    queue.append(link)
    return seen


class GuideCrawlers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--seed", "3", "--pages", str(PAGES), "--out-degree", "4")
        cls.base = cls.srv.base
        cls.start = requests.get(f"{cls.base}/graph/random", timeout=10).json()["page_id"]
        cls.reachable = reachable_pages(cls.srv.port, cls.start)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.srv.reset()

    def check(self, visited, statuses):
        self.assertGreater(len(self.reachable), PAGES // 2, "the graph's core should be reachable")
        self.assertEqual(visited, self.reachable)
        self.assertEqual(set(statuses), visited)
        bad = {p: s for p, s in statuses.items() if s != 200}
        self.assertEqual(bad, {})
        a = self.srv.stats()["audit"]
        self.assertEqual(a["pages_served"], len(visited))
        self.assertEqual(a["duplicate_fetches"], 0)
        self.assertEqual(harness.api_count(self.srv.stats()), len(visited))

    def test_sequential(self):
        visited, statuses = crawl_sequential(self.base, self.start, max_pages=PAGES + 1)
        self.check(visited, statuses)

    def test_sequential_stops_at_max_pages(self):
        visited, statuses = crawl_sequential(self.base, self.start, max_pages=30)
        self.assertEqual(len(visited), 30)
        self.assertEqual(self.srv.stats()["audit"]["pages_served"], 30)

    def test_threading(self):
        visited, statuses, errors = crawl_with_threading(self.base, self.start, PAGES + 1, num_threads=5)
        self.assertEqual(errors, [])
        self.check(visited, statuses)

    def test_asyncio_aiohttp(self):
        visited, statuses = asyncio.run(crawl_with_asyncio(self.base, self.start, PAGES + 1, 10))
        self.check(visited, statuses)

    def test_requests_futures(self):
        visited, statuses = crawl_with_requests_futures(self.base, self.start, PAGES + 1)
        self.check(visited, statuses)

    def test_process_pool_analysis(self):
        ids, pages_data, results = crawl_and_analyze_parallel(self.base, num_workers=2)
        self.assertEqual(len(ids), 50)
        self.assertEqual(len(set(ids)), 50)
        self.assertEqual([r["page_id"] for r in results], ids, "executor.map keeps the order")
        sequential = [analyze_page_content(p) for p in pages_data]
        self.assertEqual(results, sequential)
        total = sum(r["total_score"] for r in results)
        expected = sum(sum(ord(ch) for ch in l.split("/")[-1]) * len(l.split("/")[-1])
                       for p in pages_data for l in p["links"])
        self.assertEqual(total, expected)
        self.assertGreater(total, 0)
        a = self.srv.stats()["audit"]
        self.assertEqual((a["pages_served"], a["duplicate_fetches"]), (50, 0))


class Tools(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--seed", "5", "--pages", "1000")
        cls.ids = harness.page_ids(cls.srv, 50)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.srv.reset()

    def test_curl_fetches_a_page(self):
        url = f"{self.srv.base}/api/{self.ids[0]}"
        p = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", url], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        self.assertIn(b"Content-Type: application/json", head)
        self.assertEqual(body, self.srv.request(f"/api/{self.ids[0]}")[2])

    def test_curl_reuses_the_connection(self):
        urls = [f"{self.srv.base}/api/{i}" for i in self.ids[:2]]
        p = subprocess.run(["curl", "-sS", "-v", "--max-time", "10", *urls], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        err = p.stderr.decode()
        self.assertIn("Re-using existing connection", err)
        self.assertEqual(err.count("Connected to"), 1, err)
        self.assertEqual(p.stdout.count(b'"page_id"'), 2)
        self.assertEqual(self.srv.stats()["audit"]["pages_served"], 2)

    def run_wrk(self, *args):
        p = subprocess.run(["wrk", "-t1", "-c10", "-d2s", "--timeout", "5s", *args],
                           capture_output=True, timeout=60)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertNotIn("Non-2xx", out)
        self.assertNotIn("Socket errors", out)
        m = re.search(r"(\d+) requests in", out)
        self.assertIsNotNone(m, out)
        return int(m.group(1)), out

    def test_wrk_one_page(self):
        n, out = self.run_wrk(f"{self.srv.base}/api/{self.ids[0]}")
        self.assertGreater(n, 100, out)
        a = self.srv.stats()["audit"]
        # wrk counts the answers it read; up to one request per connection may still have been in flight
        self.assertGreaterEqual(harness.api_count(self.srv.stats()), n)
        self.assertLessEqual(harness.api_count(self.srv.stats()), n + 10)
        self.assertEqual(a["requests"]["api"].keys(), {"200"})
        self.assertEqual(a["pages_served"], 1)

    def test_wrk_lua_rotating_ids(self):
        script = ("ids = {%s}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n"
                  "  return wrk.format(\"GET\", \"/api/\" .. ids[(counter %% #ids) + 1])\nend\n"
                  % ", ".join('"%s"' % i for i in self.ids))
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(script)
        try:
            n, out = self.run_wrk("-s", f.name, self.srv.url)
        finally:
            os.unlink(f.name)
        self.assertGreater(n, 100, out)
        a = self.srv.stats()["audit"]
        self.assertEqual(a["requests"]["api"].keys(), {"200"})
        self.assertEqual(a["pages_served"], 50)
        self.assertEqual(a["pages_served_more_than_once"], 50)


if __name__ == "__main__":
    harness.main()
