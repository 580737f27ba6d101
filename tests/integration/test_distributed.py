"""The distributed crawl on Redis: `crawlbench crawl --model distributed` and `crawlbench worker`.

Each test starts its own redis-server (append-only file in a temp dir, a free loopback port) and stops
it by PID, and its own demo servers through harness.py. Exactness is checked three ways: the crawl's
visited set in Redis equals `crawlbench graph --reachable-from`, the result's page count equals its
size, and the server's audit saw exactly those pages, each once (or, after a crash, the extra
fetches are no more than the pages the crawl reports as reclaimed). Synchronisation is on observable
state (the crawl's --status, process exits), never on sleeps."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import jsonschema

import harness
from harness import Server, run_cli, wait_until

SEED = "11"
with open(os.path.join(harness.REPO, "docs", "crawl-result.schema.json")) as f:
    SCHEMA = json.load(f)


def free_port():
    with socket.socket() as s:
        s.bind((harness.LOCALHOST, 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server of its own: append-only persistence in a temp dir, bound to 127.0.0.1."""

    def __init__(self, password=None):
        self.dir = tempfile.mkdtemp(prefix="crawlbench-redis-")
        self.password = password
        self.port = free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        auth = ":%s@" % self.password if self.password else ""
        return "redis://%s%s:%d/0" % (auth, harness.LOCALHOST, self.port)

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", harness.LOCALHOST, "--dir", self.dir,
                "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", "redis.log"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING", check=False) in ("PONG", "NOAUTH Authentication required."), 20,
                   what="redis-server on port %d" % self.port)

    def cli(self, *args, check=True):
        cmd = ["redis-cli", "-h", harness.LOCALHOST, "-p", str(self.port), "--no-auth-warning"]
        if self.password:
            cmd += ["-a", self.password]
        p = subprocess.run(cmd + list(args), capture_output=True, timeout=20)
        out = p.stdout.decode().strip()
        if check and (p.returncode or out.startswith("ERR")):
            raise AssertionError("redis-cli %s: %s %s" % (args, out, p.stderr.decode()))
        return out

    def members(self, key):
        out = self.cli("SMEMBERS", key)
        return set(out.split()) if out else set()

    def kill(self):
        """SIGKILL, as a crash: only what reached the append-only file survives."""
        self.proc.kill()
        self.proc.wait(20)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class Proc:
    """A crawlbench process in the background (coordinator or worker), stopped by its PID."""

    def __init__(self, *args):
        self.args = [harness.binary(), *map(str, args)]
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err,
                                     env=harness.server_env())
        self.pid = self.proc.pid

    def wait(self, timeout=120):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not exit in %ss; stderr:\n%s" % (self.args, timeout, self.stderr()[-3000:]))
        err = self.stderr()
        if harness.SANITIZER_REPORT.search(err):
            raise AssertionError("sanitizer report from %s:\n%s" % (self.args, err[-6000:]))
        return rc

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")

    def stdout(self):
        self.out.seek(0)
        return self.out.read().decode("utf-8", "replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)


def reachable(start, pages):
    rc, out, err = run_cli("graph", "--seed", SEED, "--pages", str(pages), "--reachable-from", start)
    assert rc == 0, err
    return set(out.split())


def status(redis, crawl_id):
    rc, out, err = run_cli("crawl", "--redis", redis.url, "--status", crawl_id, "--json")
    return json.loads(out) if rc == 0 else None


def wait_status(redis, crawl_id, pred, timeout=120, what="status"):
    return wait_until(lambda: (lambda s: s if s and pred(s) else None)(status(redis, crawl_id)), timeout,
                      interval=0.05, what=what)


def coordinator(server, redis, crawl_id, start, *opts):
    c = Proc("crawl", server.url, "--model", "distributed", "--redis", redis.url, "--crawl-id", crawl_id,
             "--start", start, "--json", *opts)
    wait_status(redis, crawl_id, lambda s: True, 30, "crawl %s seeded" % crawl_id)
    return c


def worker(redis, crawl_id, *opts):
    return Proc("worker", "--redis", redis.url, "--crawl-id", crawl_id, *opts)


def result_of(coord, timeout=180):
    rc = coord.wait(timeout)
    if rc != 0:
        raise AssertionError("coordinator exit %d: %s" % (rc, coord.stderr()))
    res = json.loads(coord.stdout())
    jsonschema.validate(res, SCHEMA)
    return res


def seen_key(crawl_id):
    return "crawlbench:{%s}:seen" % crawl_id


class Exact(unittest.TestCase):
    def four_workers_crawl_10000_pages_exactly(self, model):
        with Redis() as r, Server("--seed", SEED, "--pages", "10000") as s:
            start = s.get_json("/graph/random")["page_id"]
            want = reachable(start, 10000)
            self.assertGreater(len(want), 5000)
            s.reset()
            c = coordinator(s, r, "big", start)
            workers = [worker(r, "big", "-c", "4", "-m", model) for _ in range(4)]
            res = result_of(c)
            for w in workers:
                self.assertEqual(w.wait(30), 0, w.stderr())
                self.assertIn("finished", w.stderr())
            self.assertEqual(r.members(seen_key("big")), want)
            self.assertEqual(res["pages"], len(want))
            self.assertEqual(res["discovered"], len(want))
            self.assertEqual(res["failed"], 0)
            self.assertEqual(res["model"], "distributed")
            audit = s.stats()["audit"]
            self.assertEqual(audit["pages_served"], len(want))
            self.assertEqual(audit["duplicate_fetches"], 0)
            d = res["distributed"]
            self.assertEqual(len(d["workers"]), 4)
            self.assertEqual(sum(w.get("ok", 0) for w in d["workers"].values()), len(want))
            self.assertEqual((d["reclaimed"], d["duplicates"]), (0, 0))
            # One round trip a page: each ack travels with the next read (or, in the event-driven
            # models, with every ack of the same loop iteration). Renewals, reclaims and the reads
            # of idle or starved workers at the start and the end are the rest.
            self.assertLessEqual(d["redis_round_trips_per_page"], 1.2)
            self.assertGreater(d["redis_round_trips_per_page"], 0)
            # Acknowledged entries are trimmed: the finished crawl's stream is empty.
            self.assertEqual(r.cli("XLEN", "crawlbench:{big}:frontier"), "0")

    def test_four_threads_workers_crawl_10000_pages_exactly(self):
        self.four_workers_crawl_10000_pages_exactly("threads")

    def test_four_async_workers_crawl_10000_pages_exactly(self):
        self.four_workers_crawl_10000_pages_exactly("async")

    def test_four_epoll_workers_crawl_10000_pages_exactly(self):
        self.four_workers_crawl_10000_pages_exactly("epoll")

    def sigkilled_worker_and_redis_crash_lose_nothing(self, victim_model, survivor_models, pages, kill_at):
        # 20 ms a page: a worker's threads hold pages nearly all the time, so the SIGKILL lands on
        # pages in flight, which only a lease's expiry gives back.
        with Redis() as r, Server("--seed", SEED, "--pages", str(pages), "--latency", "20ms") as s:
            start = s.get_json("/graph/random")["page_id"]
            want = reachable(start, pages)
            s.reset()
            c = coordinator(s, r, "crash", start, "--lease", "1s", "--timeout", "500ms", "--retries", "1")
            victim = worker(r, "crash", "-c", "4", "-m", victim_model)
            survivors = [worker(r, "crash", "-c", str(8 // len(survivor_models)), "-m", m) for m in survivor_models]
            wait_status(r, "crash", lambda st: st["pages"] >= kill_at[0], what="%d pages" % kill_at[0])
            victim.kill()
            wait_status(r, "crash", lambda st: st["pages"] >= kill_at[1], what="%d pages" % kill_at[1])
            r.kill()  # Redis crashes mid-crawl, and comes back from its append-only file
            r.start()
            res = result_of(c)
            for survivor in survivors:  # each rode out the restart on its own kind of connection
                self.assertEqual(survivor.wait(60), 0, survivor.stderr())
                self.assertNotIn(" 0 reconnections", survivor.stderr())
            self.assertEqual(r.members(seen_key("crash")), want)
            self.assertEqual(res["pages"], len(want))
            d = res["distributed"]
            self.assertGreaterEqual(d["reclaimed"], 1, "the killed worker's pages were not reclaimed")
            audit = s.stats()["audit"]
            self.assertEqual(audit["pages_served"], len(want), "a page is missing")
            # At least once: every extra fetch is a page the crawl reclaimed (the victim fetched it
            # and died before its acknowledgement) or counted as fetched twice.
            self.assertLessEqual(audit["duplicate_fetches"], d["reclaimed"] + d["duplicates"])

    def test_sigkilled_worker_and_redis_crash_lose_nothing(self):
        self.sigkilled_worker_and_redis_crash_lose_nothing("threads", ("threads",), 2500, (300, 800))

    def test_sigkilled_event_worker_and_redis_crash_lose_nothing(self):
        # An epoll worker killed; an async and an epoll worker ride out the Redis restart on their
        # asynchronous connections.
        self.sigkilled_worker_and_redis_crash_lose_nothing("epoll", ("async", "epoll"), 1500, (200, 500))

    def test_faults_retries_and_the_cap_as_in_local_models(self):
        # The workers fetch through the local engines' fetch path: the same retries, and tallies
        # equal to what the server injected.
        with Redis() as r, Server("--seed", SEED, "--pages", "1000", "--fail-first", "1", "--retry-after", "0",
                                  "--faults", "503:0.05,500:0.05,429:0.03") as s:
            start = s.get_json("/graph/random")["page_id"]
            want = reachable(start, 1000)
            s.reset()
            c = coordinator(s, r, "faults", start, "--retries", "5", "--backoff", "1ms")
            workers = [worker(r, "faults", "-c", "4") for _ in range(2)]
            res = result_of(c)
            for w in workers:
                self.assertEqual(w.wait(30), 0, w.stderr())
            audit = s.stats()["audit"]
            faults = audit["faults"]
            self.assertEqual(r.members(seen_key("faults")), want)
            self.assertEqual((res["pages"], audit["pages_served"], audit["duplicate_fetches"]), (len(want),) * 2 + (0,))
            self.assertEqual(res["attempts"]["5xx"], faults["500"] + faults["503"])  # fail-first included
            self.assertEqual(res["attempts"]["429"], faults["429"])
            self.assertEqual(res["requests"], sum(audit["requests"]["api"].values()))
            self.assertGreaterEqual(res["retries"], len(want))
            s.reset()
            c = coordinator(s, r, "capped", start, "--max-pages", "137", "--backoff", "1ms")
            self.assertEqual(worker(r, "capped", "-c", "8").wait(60), 0)
            res = result_of(c)
            self.assertEqual(res["pages"] + res["failed"], 137)
            self.assertEqual(s.stats()["audit"]["pages_served"], res["pages"], "overshoot past the cap")


class Sharing(unittest.TestCase):
    def test_two_crawls_in_one_redis_and_a_late_worker(self):
        with Redis() as r, Server("--seed", SEED, "--pages", "1500", "--latency", "10ms") as a, \
                Server("--seed", SEED, "--pages", "1200") as b:
            start_a, start_b = a.get_json("/graph/random")["page_id"], b.get_json("/graph/random")["page_id"]
            want_a, want_b = reachable(start_a, 1500), reachable(start_b, 1200)
            a.reset(), b.reset()
            ca, cb = coordinator(a, r, "crawl-a", start_a), coordinator(b, r, "crawl-b", start_b)
            early = [worker(r, "crawl-a", "-c", "4"), worker(r, "crawl-b", "-c", "4")]
            wait_status(r, "crawl-a", lambda st: st["pages"] >= 100, what="crawl-a under way")
            late = worker(r, "crawl-a", "-c", "4")
            res_a, res_b = result_of(ca), result_of(cb)
            for w in early + [late]:
                self.assertEqual(w.wait(30), 0, w.stderr())
            self.assertEqual(r.members(seen_key("crawl-a")), want_a)
            self.assertEqual(r.members(seen_key("crawl-b")), want_b)
            self.assertEqual((res_a["pages"], res_b["pages"]), (len(want_a), len(want_b)))
            for srv, want in ((a, want_a), (b, want_b)):
                audit = srv.stats()["audit"]
                self.assertEqual((audit["pages_served"], audit["duplicate_fetches"]), (len(want), 0))
            late_name = "%s:%d" % (socket.gethostname()[:63], late.pid)
            self.assertIn(late_name, res_a["distributed"]["workers"])
            self.assertGreater(res_a["distributed"]["workers"][late_name].get("ok", 0), 0, "the late worker took no page")
            self.assertEqual(len(res_b["distributed"]["workers"]), 1)

    def test_a_slow_page_keeps_its_lease(self):
        # Each page takes 1.5 s, three times the lease: only the renewals (every third of a lease)
        # keep the other worker's idle threads, which try to reclaim every 200 ms, off them.
        with Redis() as r, Server("--seed", SEED, "--pages", "200", "--latency", "1500ms") as s:
            start = s.get_json("/graph/random")["page_id"]
            c = coordinator(s, r, "slow", start, "--lease", "500ms", "--timeout", "5s", "--max-pages", "12")
            # One worker of each kind: the threads worker's renewer thread and the event worker's
            # renewal in its loop must each keep the other's reclaims off their pages.
            workers = [worker(r, "slow", "-c", "3", "-m", m) for m in ("threads", "epoll")]
            res = result_of(c, timeout=60)
            for w in workers:
                self.assertEqual(w.wait(30), 0, w.stderr())
            self.assertEqual(res["pages"], 12)
            self.assertEqual((res["distributed"]["reclaimed"], res["distributed"]["duplicates"]), (0, 0))
            audit = s.stats()["audit"]
            self.assertEqual((audit["pages_served"], audit["duplicate_fetches"]), (12, 0))

    def sigterm_finishes_or_returns_the_pages_in_hand(self, model, pages):
        with Redis() as r, Server("--seed", SEED, "--pages", str(pages), "--latency", "50ms") as s:
            start = s.get_json("/graph/random")["page_id"]
            want = reachable(start, pages)
            s.reset()
            # A long lease: a page left pending would hold the crawl up for a minute.
            c = coordinator(s, r, "term", start, "--lease", "60s")
            first = worker(r, "term", "-c", "8", "-m", model)
            name = "%s:%d" % (socket.gethostname()[:63], first.pid)
            wait_status(r, "term", lambda st: st["in_flight_per_worker"].get(name, 0) >= 4, what="pages in hand")
            first.proc.send_signal(signal.SIGTERM)
            self.assertEqual(first.wait(10), 0, first.stderr())
            self.assertIn("stopped", first.stderr())
            st = status(r, "term")
            self.assertNotIn(name, st["in_flight_per_worker"], "the stopped worker still holds pages")
            self.assertEqual(st["state"], "running")
            # The coordinator too may stop and come back: Ctrl-C prints the crawl so far and leaves
            # it in Redis, --resume waits for the same crawl.
            c.proc.send_signal(signal.SIGINT)
            self.assertEqual(c.wait(10), 130, c.stderr())
            partial = json.loads(c.stdout())
            self.assertTrue(partial["interrupted"])
            self.assertEqual(partial["pages"], st["pages"])
            c = Proc("crawl", s.url, "--model", "distributed", "--redis", r.url, "--crawl-id", "term", "--json",
                     "--resume")
            second = worker(r, "term", "-c", "8", "-m", model)
            res = result_of(c, timeout=60)
            self.assertIn("resumed", c.stderr())
            self.assertEqual(second.wait(30), 0, second.stderr())
            self.assertEqual(r.members(seen_key("term")), want)
            self.assertEqual(res["pages"], len(want))
            self.assertEqual(res["distributed"]["reclaimed"], 0)
            audit = s.stats()["audit"]
            self.assertEqual(audit["pages_served"], len(want))

    def test_sigterm_finishes_or_returns_the_pages_in_hand(self):
        for model, pages in (("threads", 800), ("async", 300), ("epoll", 300)):
            with self.subTest(model=model):
                self.sigterm_finishes_or_returns_the_pages_in_hand(model, pages)


class BadInput(unittest.TestCase):
    def test_unreachable_redis(self):
        url = "redis://127.0.0.1:%d" % free_port()
        for args in (("worker", "--redis", url), ("worker", "--redis", url, "-m", "epoll"),
                     ("crawl", "--redis", url, "--status", "x"),
                     ("crawl", "-m", "distributed", "--redis", url, "--start", "abc")):
            rc, out, err = run_cli(*args)
            self.assertEqual(rc, 1, err)
            self.assertIn("cannot reach redis", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_password(self):
        with Redis(password="s3cret") as r:
            good = r.url
            for url, why in ((good.replace("s3cret", "wrong"), "refused the login"),
                             (good.replace(":s3cret@", ""), "wants a password")):
                for args in (("worker", "--redis", url), ("worker", "--redis", url, "-m", "async"),
                             ("crawl", "--redis", url, "--status", "x")):
                    rc, out, err = run_cli(*args)
                    self.assertEqual(rc, 1, err)
                    self.assertIn(why, err)
            rc, out, err = run_cli("crawl", "--redis", good, "--status", "x")
            self.assertEqual(rc, 1)
            self.assertIn("no crawl", err)

    def test_existing_crawl_needs_resume_or_fresh(self):
        with Redis() as r, Server("--seed", SEED, "--pages", "300") as s:
            start = s.get_json("/graph/random")["page_id"]
            c = coordinator(s, r, "again", start)
            self.assertEqual(worker(r, "again", "-c", "2").wait(60), 0)
            first = result_of(c)
            base = ("crawl", s.url, "-m", "distributed", "--redis", r.url, "--crawl-id", "again", "--json")
            rc, out, err = run_cli(*base)
            self.assertEqual(rc, 1)
            self.assertIn("already exists", err)
            self.assertIn("--resume", err)
            rc, out, err = run_cli(*base, "--resume")  # a finished crawl: its result, at once
            self.assertEqual(rc, 0, err)
            self.assertIn("resumed", err)
            self.assertEqual(json.loads(out)["pages"], first["pages"])
            c = Proc(*base, "--fresh", "--start", start)
            wait_status(r, "again", lambda st: st["pages"] == 0 and st["state"] == "running", 30, "fresh crawl")
            self.assertEqual(worker(r, "again", "-c", "2").wait(60), 0)
            self.assertEqual(result_of(c)["pages"], first["pages"])

    def test_keys_of_another_program_are_not_touched(self):
        with Redis() as r, Server("--seed", SEED, "--pages", "100") as s:
            r.cli("SET", "crawlbench:{str}:meta", "hello")
            r.cli("HSET", "crawlbench:{hash}:meta", "kind", "something-else")
            r.cli("SET", "crawlbench:{orphan}:seen", "mine")
            for cid in ("str", "hash", "orphan"):
                for fresh in ((), ("--fresh",), ("--resume",)):
                    rc, out, err = run_cli("crawl", s.url, "-m", "distributed", "--redis", r.url, "--crawl-id", cid,
                                           "--start", "abc", *fresh)
                    self.assertEqual(rc, 1, err)
                    self.assertIn("another program", err)
            rc, out, err = run_cli("worker", "--redis", r.url, "--crawl-id", "hash")
            self.assertEqual(rc, 1)
            self.assertIn("another program", err)
            self.assertEqual(r.cli("GET", "crawlbench:{str}:meta"), "hello")
            self.assertEqual(r.cli("HGET", "crawlbench:{hash}:meta", "kind"), "something-else")
            self.assertEqual(r.cli("GET", "crawlbench:{orphan}:seen"), "mine")

    def test_usage_errors(self):
        for args in (("worker",), ("worker", "--redis", "http://x"), ("worker", "--redis", "redis://h", "--crawl-id", "a b"),
                     ("worker", "--redis", "redis://h:99999"), ("crawl", "--redis", "redis://h", "--resume", "--fresh"),
                     ("crawl", "--redis", "redis://h"), ("crawl", "-m", "distributed"),
                     ("crawl", "--redis", "redis://h", "--status", "../x"), ("worker", "--redis", "redis://h", "-m", "fibers")):
            rc, out, err = run_cli(*args)
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            self.assertTrue(err.startswith("crawlbench"), err)


if __name__ == "__main__":
    harness.main()
