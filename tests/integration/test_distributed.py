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
    def test_four_workers_crawl_10000_pages_exactly(self):
        with Redis() as r, Server("--seed", SEED, "--pages", "10000") as s:
            start = s.get_json("/graph/random")["page_id"]
            want = reachable(start, 10000)
            self.assertGreater(len(want), 5000)
            s.reset()
            c = coordinator(s, r, "big", start)
            workers = [worker(r, "big", "-c", "4") for _ in range(4)]
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
            self.assertLessEqual(d["redis_round_trips_per_page"], 2.5)
            # Acknowledged entries are trimmed: the finished crawl's stream is empty.
            self.assertEqual(r.cli("XLEN", "crawlbench:{big}:frontier"), "0")


if __name__ == "__main__":
    harness.main()
