"""How `crawlbench crawl` ends, for every model: a stop during a backoff wait makes no further attempt;
SIGTERM, like SIGINT, prints the report and writes the pages fetched so far (exit 143); a failed run
never damages the user's -o file; no request goes through a proxy from the environment; and the exit
status is the one docs/CRAWL.md documents (1 no server / no start page / server gone, 2 usage)."""
import json
import os
import signal
import subprocess
import tempfile
import unittest

import harness
from harness import Server, run_cli

SEED, PAGES = "11", "2000"
PROXY_ENV = {"http_proxy": "http://127.0.0.1:1", "HTTP_PROXY": "http://127.0.0.1:1",
             "all_proxy": "http://127.0.0.1:1", "ALL_PROXY": "http://127.0.0.1:1"}


def models():
    rc, out, err = run_cli("crawl", "--list-models")
    assert rc == 0, err
    return out.split()


def start_crawl(server, model, *args, out=None, env=None):
    cmd = [harness.binary(), "crawl", server.url, "-m", model, "--json", "--no-progress", *map(str, args)]
    if out:
        cmd += ["-o", out]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**harness.server_env(), **(env or {})})


def finish(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    err = err.decode("utf-8", "replace")
    assert not harness.SANITIZER_REPORT.search(err), err
    return p.returncode, out.decode(), err


def stopped_crawl(server, model, sig, ready, what, *args, out=None):
    """Resets the audit, starts a crawl, sends sig once ready() holds; returns finish()'s triple."""
    server.reset()
    p = start_crawl(server, model, *args, out=out)
    harness.wait_until(ready, 60, what=what)
    p.send_signal(sig)
    return finish(p)


def requests_seen(server):
    return sum(server.stats()["audit"]["requests"]["api"].values())


class StopDuringBackoff(unittest.TestCase):
    """Every page's first attempt gets 503 with Retry-After 10 s; the stop comes while the crawl waits.
    The page keeps its 503: no second request reaches the server, and nobody waits the 10 s."""

    def test_every_model_makes_no_attempt_after_a_stop(self):
        with Server("--seed", SEED, "--pages", PAGES, "--fail-first", 1, "--retry-after", 10) as s:
            start = s.get_json("/graph/random")["page_id"]
            for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
                for model in models():
                    with self.subTest(model=model, signal=sig.name):
                        rc, out, err = stopped_crawl(s, model, sig, lambda: requests_seen(s) >= 1, "the first attempt",
                                                     "-c", 4, "--start", start, "--retries", 3)
                        self.assertEqual(rc, code, err)
                        res = json.loads(out)
                        self.assertTrue(res["interrupted"])
                        self.assertEqual(requests_seen(s), 1, "an attempt was made after the stop")
                        self.assertEqual((res["requests"], res["pages"], res["failed"]), (1, 0, 1))
                        self.assertLess(res["elapsed_s"], 5, "the stop waited for Retry-After")


class StopWhilePaced(unittest.TestCase):
    """The server allows one request a second and says so (RateLimit-Policy); the crawl paces itself,
    so after the start page its pages wait for their turns. A stop while they wait sends nothing
    more, and a page that never had an attempt is not reported as failed: the page log and the
    server's per-page audit agree on every page's attempts."""

    def test_a_stop_while_waiting_for_a_turn_sends_nothing_and_fails_nothing(self):
        with Server("--seed", SEED, "--pages", PAGES, "--rate-limit", "1/s,1") as s:
            start = s.get_json("/graph/random")["page_id"]
            for model in models():
                with self.subTest(model=model), tempfile.TemporaryDirectory() as d:
                    log = os.path.join(d, "pages.log")
                    rc, out, err = stopped_crawl(s, model, signal.SIGINT, lambda: requests_seen(s) >= 2,
                                                 "the second, paced request", "-c", 4, "--start", start,
                                                 "--page-log", log)
                    self.assertEqual(rc, 130, err)
                    res = json.loads(out)
                    self.assertEqual(requests_seen(s), 2, "a request left after the stop")
                    with open(log) as f:
                        ends = [line.rstrip("\n").split("\t") for line in f]
                    self.assertEqual({e[0]: int(e[3]) for e in ends}, s.page_attempts())
                    self.assertEqual(res["failed"], sum(e[1] != "ok" for e in ends))
                    self.assertEqual(res["pages"], sum(e[1] == "ok" for e in ends))


class Sigterm(unittest.TestCase):
    def test_sigterm_writes_the_report_and_the_pages_so_far(self):
        with Server("--seed", SEED, "--pages", PAGES, "--latency", "20ms") as s:
            start = s.get_json("/graph/random")["page_id"]
            for model in models():
                with self.subTest(model=model), tempfile.TemporaryDirectory() as d:
                    out = os.path.join(d, "visited.txt")
                    rc, stdout, err = stopped_crawl(s, model, signal.SIGTERM, lambda: harness.api_count(s.stats()) >= 30,
                                                    "30 pages", "-c", 8, "--start", start, out=out)
                    self.assertEqual(rc, 143, err)
                    res = json.loads(stdout)
                    self.assertTrue(res["interrupted"])
                    self.assertGreaterEqual(res["pages"], 30)
                    self.assertLess(res["pages"], int(PAGES))
                    with open(out) as f:
                        visited = f.read().split()
                    self.assertEqual(len(visited), res["pages"])
                    self.assertEqual(os.listdir(d), ["visited.txt"], "a temporary file was left behind")


class UserFiles(unittest.TestCase):
    def check_untouched(self, *args, expect_rc):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "keep.txt")
            with open(path, "w") as f:
                f.write("precious data\n")
            os.chmod(path, 0o640)
            rc, out, err = run_cli("crawl", *args, "-o", path, "--no-progress")
            self.assertEqual(rc, expect_rc, err)
            with open(path) as f:
                self.assertEqual(f.read(), "precious data\n")
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o640)
            self.assertEqual(os.listdir(d), ["keep.txt"], "a temporary file was left behind")

    def test_a_failed_run_leaves_the_file_as_it_was(self):
        self.check_untouched("http://127.0.0.1:1", expect_rc=1)  # nothing listens there
        self.check_untouched("--start", "../etc", expect_rc=2)   # usage error

    def test_a_good_run_replaces_it_keeping_its_mode(self):
        with Server("--seed", SEED, "--pages", 200) as s, tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "keep.txt")
            with open(path, "w") as f:
                f.write("old\n")
            os.chmod(path, 0o640)
            rc, out, err = run_cli("crawl", s.url, "-o", path, "--json", "--no-progress")
            self.assertEqual(rc, 0, err)
            with open(path) as f:
                self.assertEqual(len(f.read().split()), json.loads(out)["pages"])
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o640)


class Proxies(unittest.TestCase):
    def test_no_model_goes_through_a_proxy_from_the_environment(self):
        with Server("--seed", SEED, "--pages", 300) as s:
            for model in models():
                with self.subTest(model=model):
                    rc, out, err = finish(start_crawl(s, model, "-c", 4, env=PROXY_ENV))
                    self.assertEqual(rc, 0, err)
                    self.assertGreater(json.loads(out)["pages"], 0)

    def test_compare_goes_straight_to_the_server(self):
        with Server("--seed", SEED, "--pages", 300) as s, tempfile.TemporaryDirectory() as d:
            p = subprocess.run([harness.binary(), "compare", s.url, "--models", "sequential,async", "--repeat", "1",
                                "--warmup", "0", "--max-pages", "50", "--out", d, "--no-progress"],
                               capture_output=True, env={**harness.server_env(), **PROXY_ENV}, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr.decode())


class ExitStatus(unittest.TestCase):
    def test_usage_errors_exit_2_and_say_why(self):
        for args, says in ((["--start", "../etc"], "not a page id"),
                           (["-m", "threads", "-c", "100000"], "threads runs at most"),
                           (["-m", "nosuch"], "unknown model")):
            with self.subTest(args=args):
                rc, out, err = run_cli("crawl", "http://127.0.0.1:1", *args)
                self.assertEqual(rc, 2, err)
                self.assertIn(says, err)

    def test_no_server_exits_1_and_says_how_to_start_one(self):
        for args in ([], ["--start", "abc"]):
            with self.subTest(args=args):
                rc, out, err = run_cli("crawl", "http://127.0.0.1:1", "--no-progress", *args)
                self.assertEqual(rc, 1, err)
                self.assertIn("crawlbench serve", err)

    def test_a_start_page_that_does_not_exist_exits_1(self):
        with Server("--seed", SEED, "--pages", 100) as s:
            rc, out, err = run_cli("crawl", s.url, "--start", "NOPE1234", "--json", "--no-progress")
            self.assertEqual(rc, 1, err)
            self.assertIn("does not exist", err)
            self.assertEqual(json.loads(out)["pages"], 0)

    def test_a_server_that_dies_mid_crawl_exits_1_with_the_report(self):
        s = Server("--seed", SEED, "--pages", PAGES, "--latency", "2ms")
        try:
            p = start_crawl(s, "threads", "-c", 4, "--retries", 0)
            harness.wait_until(lambda: harness.api_count(s.stats()) >= 100, 60, what="100 pages")
            s._kill()
            rc, out, err = finish(p)
        finally:
            s._kill()
        self.assertEqual(rc, 1, err)
        self.assertIn("stopped answering after", err)
        res = json.loads(out)
        # The server had answered 100 when it was killed; a few of those answers may never have
        # reached the crawler, so only "some pages, then refused connections" is certain.
        self.assertGreater(res["pages"], 50)
        self.assertIn("after %d pages" % res["pages"], err)
        self.assertGreater(res["attempts"]["connect"], 0)


if __name__ == "__main__":
    harness.main()
