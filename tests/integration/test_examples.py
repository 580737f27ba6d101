"""The teaching programs of examples/ (built by `make examples`): each is run, under ASan+UBSan
(build/examples-asan/) or, for the threaded ones' TSan checks, under TSan (build/examples-tsan/), and
what it prints is checked against the lesson it claims, with no sanitizer report allowed but the race
that pitfalls/race.c is there to show; with expected values computed here, not copied from a run. Timing assertions only where the
margin is several times the effect (a batch of 200 ms requests done concurrently in under 1 s, where
one after another takes at least 2 s). The demo server comes from $CRAWLBENCH through the harness;
Redis is started on a free port and stopped by its PID.
"""
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EX = os.path.join(harness.REPO, "build", "examples-asan")
EX_TSAN = os.path.join(harness.REPO, "build", "examples-tsan")
TSAN_ENV = dict(os.environ, TSAN_OPTIONS="halt_on_error=1:exitcode=66")
ASAN_ENV = harness.server_env()


def run(prog, *args, tsan=False, expect_rc=0, timeout=60):
    path = os.path.join(EX_TSAN if tsan else EX, prog)
    if not os.path.exists(path):
        raise AssertionError("%s is not built: run `make examples`" % path)
    p = subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env=TSAN_ENV if tsan else ASAN_ENV, stdin=subprocess.DEVNULL)
    if not tsan and harness.SANITIZER_REPORT.search(p.stderr):
        raise AssertionError("%s %s: sanitizer report:\n%s" % (prog, args, p.stderr[-3000:]))
    if expect_rc is not None and p.returncode != expect_rc:
        raise AssertionError("%s %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                             % (prog, args, p.returncode, expect_rc, p.stdout, p.stderr[-3000:]))
    if tsan and expect_rc == 0 and "ThreadSanitizer" in p.stderr:
        raise AssertionError("%s: TSan report:\n%s" % (prog, p.stderr[-3000:]))
    return p.stdout, p.stderr, p.returncode


def primes_below(n):
    sieve = bytearray([1]) * max(n, 2)
    sieve[0:2] = b"\0\0"
    for i in range(2, int(n ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytearray(len(sieve[i * i::i]))
    return sum(sieve[:n])


def sample_links(server, n):
    """The number of links on the first n pages of /graph/sample?n=n, asked of the server."""
    return sum(len(server.get_json("/api/" + pid)["links"]) for pid in harness.page_ids(server, n))


class Fetching(unittest.TestCase):
    """01, 02, 04, 11: the same ten 200 ms pages, one after another and concurrently."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server("--latency", "200ms")
        cls.links = sample_links(cls.server, 10)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def check(self, out, pattern):
        m = re.search(pattern, out)
        self.assertTrue(m, out)
        self.assertEqual(int(m.group(1)), self.links, out)
        return float(m.group(2))

    def test_sequential_waits_for_each(self):
        out, _, _ = run("01-sequential/sequential", self.server.url, 10)
        self.assertGreaterEqual(self.check(out, r"10 pages, (\d+) links in ([\d.]+) s"), 2.0)

    def test_threads_wait_together(self):
        out, _, _ = run("02-threads/threads", self.server.url, 10)
        self.assertLess(self.check(out, r"10 pages, (\d+) links in ([\d.]+) s"), 1.0)

    def test_event_loop_waits_together_on_one_thread(self):
        out, _, _ = run("04-event-loop/event_loop", self.server.port, 10)
        done = sorted(int(i) for i in re.findall(r"page (\d+) done", out))
        self.assertEqual(done, list(range(10)), out)
        self.assertEqual(sum(int(k) for k in re.findall(r": (\d+) links", out)), self.links)
        self.assertLess(float(re.search(r"10 pages in ([\d.]+) s", out).group(1)), 1.0, out)

    def test_green_threads_wait_together_on_one_thread(self):
        out, _, _ = run("11-green-threads/green", self.server.port, 10)
        self.assertLess(self.check(out, r"10 pages, (\d+) links in ([\d.]+) s"), 1.0)


class Computing(unittest.TestCase):
    def test_cpu_threads_count_the_same_for_any_thread_count(self):
        want = primes_below(200000)
        for t in (1, 3):
            out, _, _ = run("02-threads/cpu_threads", 200000, t)
            self.assertIn("primes below 200000: %d (%d threads" % (want, t), out)

    def test_process_pool_collects_over_pipes(self):
        want = primes_below(200000)
        for p in (1, 3):
            out, _, _ = run("03-processes/pool", 200000, p)
            self.assertIn("primes below 200000: %d (%d processes" % (want, p), out)

    def test_futures_complete_in_completion_order(self):
        out, _, _ = run("05-futures/futures", 4, 4)
        order = [int(t) for t in re.findall(r"completed: task (\d+)", out)]
        self.assertEqual(order, [3, 2, 1, 0], out)  # task i sleeps (4 - i) * 150 ms
        self.assertEqual(re.findall(r"task (\d+) \(result (\d+)\)", out),
                         [(str(t), str(10 * t)) for t in order])

    def test_nursery_cancels_siblings(self):
        out, _, _ = run("06-nursery/nursery", 100)
        self.assertRegex(out, r"B: failed after")
        self.assertRegex(out, r"A: cancelled after")
        self.assertRegex(out, r"C: cancelled after")
        self.assertNotIn("finished", out)
        left = float(re.search(r"block left after ([\d.]+) s, 1 failed", out).group(1))
        self.assertLess(left, 4.0)  # A and C alone would take 5 s
        self.assertLess(out.index("B: failed"), out.index("nursery: block left"))

    def test_parallel_map_same_output_for_any_job_count(self):
        def collatz(x):
            v, s = x + 1, 0
            while v != 1:
                v, s = (3 * v + 1 if v % 2 else v // 2), s + 1
            return s
        out, _, _ = run("07-parallel-map/parallel_map", 20000, 3)
        self.assertIn("squares: " + " ".join(str(i * i) for i in range(10)), out)
        want = sum(collatz(x) for x in range(20000))
        self.assertIn(": %d with 1 job" % want, out)
        self.assertIn(", %d with 3 jobs" % want, out)

    def test_bounded_queue_pushes_back(self):
        out, _, _ = run("09-producer-consumer/prodcons", 20, 4)
        self.assertIn("consumer: 20 items, in order", out)
        m = re.search(r"never held more than (\d+); the producer blocked (\d+) times", out)
        self.assertLessEqual(int(m.group(1)), 4)
        self.assertGreaterEqual(int(m.group(2)), 1)

    def test_resources_released_across_suspension_points(self):
        for k in (0, 3, 10):
            out, _, _ = run("10-async-resource/resource", k)
            lines = out.splitlines()
            pos = {l: i for i, l in enumerate(lines)}
            self.assertLess(pos["user: acquiring connection"], pos["user: using the connection, step 1"])
            self.assertLess(pos["user: the body fails"], pos["user: releasing connection"])
            self.assertEqual(re.findall(r"consumer: got item (\d+)", out), [str(i) for i in range(k)])
            self.assertLess(pos["consumer: stops early (break), closing the generator"],
                            pos["generator: releasing cursor"])
            self.assertEqual(lines[-1], "resources still open: 0")
            # interleaved: the user's steps and the consumer's items alternate on one thread
            if k == 3:
                self.assertLess(pos["consumer: got item 0"], pos["user: the body fails"])

    def test_blocked_array_mean(self):
        out, _, _ = run("12-blocked-array/blocked", 2000, 500, 3)  # exits 1 if the runs differ
        m = re.search(r"\.mean\(\) of 2000x2000 in 500x500 chunks: ([\d.]+) with 1 thread .* "
                      r"([\d.]+) with 3 threads", out)
        self.assertTrue(m, out)
        self.assertEqual(m.group(1), m.group(2))
        self.assertAlmostEqual(float(m.group(1)), 1.0, delta=0.01)  # E[x + x.T] = 2 * 0.5


def free_port():
    with socket.socket() as s:
        s.bind((harness.LOCALHOST, 0))
        return s.getsockname()[1]


class TaskQueue(unittest.TestCase):
    def test_workers_run_tasks_from_redis(self):
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers = []
        try:
            harness.wait_until(lambda: _connects(port), 10, what="redis-server on %d" % port)
            for _ in range(2):
                workers.append(subprocess.Popen([os.path.join(EX, "08-task-queue/worker"), str(port)],
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                text=True, env=ASAN_ENV))
                # ready: connected to the broker, and a SIGTERM from here on is a clean stop
                self.assertEqual(workers[-1].stdout.readline(), "worker: ready\n")
            out, _, _ = run("08-task-queue/client", port, 10)
            self.assertEqual(re.findall(r"add\((\d+), (\d+)\) = (\d+)", out),
                             [(str(4 + i), str(4 + i), str(8 + 2 * i)) for i in range(10)])
        finally:
            done = 0
            for w in workers:
                os.kill(w.pid, signal.SIGTERM)
                wout, werr = w.communicate(timeout=10)
                self.assertEqual(w.returncode, 0, werr)
                self.assertNotRegex(werr, harness.SANITIZER_REPORT)
                done += int(re.search(r"worker: (\d+) tasks done", wout).group(1))
            os.kill(redis.pid, signal.SIGTERM)
            redis.wait(10)
        self.assertEqual(done, 10)


def _connects(port):
    try:
        socket.create_connection((harness.LOCALHOST, port), timeout=1).close()
        return True
    except OSError:
        return False


class RemoteTasks(unittest.TestCase):
    def test_workers_compute_what_the_driver_would(self):
        workers, ports = [], []
        try:
            for _ in range(2):
                w = subprocess.Popen([os.path.join(EX, "13-remote-tasks/pi_worker")],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=ASAN_ENV)
                workers.append(w)
                ports.append(int(re.fullmatch(r"listening on (\d+)\n", w.stdout.readline()).group(1)))
            remote, _, _ = run("13-remote-tasks/pi_driver", 200000, 6, *ports)
            local, _, _ = run("13-remote-tasks/pi_driver", 200000, 6)
        finally:
            for w in workers:
                os.kill(w.pid, signal.SIGTERM)
                _, werr = w.communicate(timeout=10)
                self.assertEqual(w.returncode, 0, werr)
                self.assertNotRegex(werr, harness.SANITIZER_REPORT)
        pat = r"pi ~ ([\d.]+) \((\d+) hits of 1200000 samples, 6 tasks, (\d) workers"
        r, l = re.search(pat, remote), re.search(pat, local)
        self.assertEqual((r.group(2), r.group(3)), (l.group(2), "2"))
        self.assertEqual(l.group(3), "0")
        self.assertAlmostEqual(float(r.group(1)), math.pi, delta=0.01)


class Pitfalls(unittest.TestCase):
    def test_race_is_reported_by_tsan(self):
        _, err, rc = run("pitfalls/race", 100000, 2, tsan=True, expect_rc=66)
        self.assertIn("WARNING: ThreadSanitizer: data race", err)
        self.assertIn("race.c", err)

    def test_race_fixed_is_clean_under_tsan(self):
        out, _, _ = run("pitfalls/race_fixed", 100000, 2, tsan=True)
        self.assertIn("counter: 200000, should be 200000 (0 updates lost)", out)

    def test_deadlock_caught_by_the_watchdog(self):
        # After the barrier each thread holds one lock, so the first to time out must time out;
        # once it gives up and releases its lock, the other may get it (one report) or may have
        # timed out too (two).
        out, _, _ = run("pitfalls/deadlock", 200, expect_rc=3)
        self.assertIn(len(re.findall(r"deadlock: waited 200 ms", out)), (1, 2), out)
        self.assertTrue(out.endswith("deadlock detected\n"), out)

    def test_deadlock_fixed_by_lock_order(self):
        for tsan in (False, True):
            out, _, _ = run("pitfalls/deadlock_fixed", 2000, tsan=tsan)
            self.assertIn("2 threads took both locks; no deadlock", out)

    def test_blocking_call_stalls_the_loop(self):
        out, _, _ = run("pitfalls/blocking_loop", 300)
        worst = int(re.search(r"longest any waited: (\d+) ms", out).group(1))
        self.assertGreaterEqual(worst, 240)  # the blocking call lasts at least 300 ms

    def test_blocking_call_off_the_loop(self):
        for tsan in (False, True):
            out, _, _ = run("pitfalls/blocking_loop_fixed", 300, tsan=tsan)
            worst = int(re.search(r"longest any waited: (\d+) ms", out).group(1))
            self.assertLess(worst, 150, out)
            self.assertIn("slow request done", out)

    def test_fork_writes_are_invisible_then_shared(self):
        out, _, _ = run("pitfalls/fork_cow", 100)
        self.assertIn("child: counter = 100", out)
        self.assertIn("parent: counter = 0", out)
        out, _, _ = run("pitfalls/fork_cow_fixed", 100)
        self.assertIn("parent: counter = 100", out)

    def test_mutex_held_at_fork(self):
        out, _, _ = run("pitfalls/fork_mutex", 200, expect_rc=3)
        self.assertIn("child: deadlock: log_lock was held at fork time", out)
        out, _, _ = run("pitfalls/fork_mutex_fixed", 2000)
        self.assertIn("child: got log_lock", out)

    def test_false_sharing_counts(self):
        out, _, _ = run("pitfalls/false_sharing", 1000000, 2)
        self.assertRegex(out, r"one cache line [\d.]+ s, padded [\d.]+ s, slowdown [\d.]+x \(counts correct\)")


class GuideBugs(unittest.TestCase):
    """The guide's own crawlers' bugs, in C (examples/pitfalls/guide_*.c), each against its fix.
    The server's crawl audit (pages served) confirms what each crawler says it visited."""

    def crawl(self, server, prog, *args, expect_rc=0, tsan=False):
        server.reset()
        out, _, _ = run("pitfalls/" + prog, server.url, *args, expect_rc=expect_rc, tsan=tsan)
        return out, server.stats()["audit"]["pages_served"]

    def test_asyncio_crawler_drops_frontier_entries(self):
        with harness.Server() as server:
            start = server.get_json("/graph/random")["page_id"]
            rc, out, err = harness.run_cli("graph", "--reachable-from", start)
            self.assertEqual(rc, 0, err)
            reachable = len(out.split())
            out, served = self.crawl(server, "guide_asyncio", start)
            broken = int(re.search(r"visited (\d+) pages", out).group(1))
            self.assertEqual(broken, served)
            self.assertLess(broken, reachable)
            out, served = self.crawl(server, "guide_asyncio_fixed", start)
            self.assertIn("visited %d pages" % reachable, out)
            self.assertEqual(served, reachable)

    def test_asyncio_bug_in_c_loses_what_the_guides_python_loses(self):
        # The C port against the guide's own crawler (bench/guide_crawlers.py, copied from the
        # guide, bugs included): the same pages found, at two concurrency levels.
        guide = os.path.join(harness.REPO, "bench", "guide_crawlers.py")
        with harness.Server() as server:
            start = server.get_json("/graph/random")["page_id"]
            for c in (10, 100):
                p = subprocess.run(["/usr/bin/python3", guide, "asyncio", server.base, start,
                                    "--max-pages", "1000000", "--concurrency", str(c)],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stderr[-2000:])
                python_pages = json.loads(p.stdout)["pages"]
                out, _ = self.crawl(server, "guide_asyncio", start, 1000000, c)
                self.assertIn("visited %d pages" % python_pages, out)

    def test_futures_crawler_overshoots_max_pages(self):
        with harness.Server() as server:
            start = server.get_json("/graph/random")["page_id"]
            out, served = self.crawl(server, "guide_futures", start, 50)
            broken = int(re.search(r"visited (\d+) pages \(max_pages 50\)", out).group(1))
            self.assertEqual(broken, served)
            self.assertGreater(broken, 50)
            for tsan in (False, True):
                out, served = self.crawl(server, "guide_futures_fixed", start, 50, tsan=tsan)
                self.assertIn("visited 50 pages (max_pages 50)", out)
                self.assertEqual(served, 50)

    def test_threading_crawler_gives_up_workers_while_one_fetches(self):
        # 300 ms a page, workers idle for 100 ms give up: while the first page is in flight, the
        # four other workers are idle for at least 300 ms, so they all quit.
        with harness.Server("--latency", "300ms") as server:
            out, _ = self.crawl(server, "guide_threading", "R4L90Hmc", 5, 5, 100)
            self.assertRegex(out, r"visited 5 pages; [1-4] of 5 workers quit while the crawl still had work")
            out, served = self.crawl(server, "guide_threading_fixed", "R4L90Hmc", 5, 5)
            self.assertIn("visited 5 pages (0 failed); all 5 workers worked to the end", out)
            self.assertEqual(served, 5)

    def test_threading_crawler_hangs_on_a_page_without_links(self):
        # Every page's first request fails (500, an error answer without "links"): the start page's
        # worker dies, and only the fix lets the crawl end.
        with harness.Server("--fail-first", "1", "--fail-with", "500") as server:
            start = server.get_json("/graph/random")["page_id"]
            out, _ = self.crawl(server, "guide_threading", start, 50, 5, 100, expect_rc=3)
            self.assertIn("worker: no links on %s (HTTP 500): the thread dies" % start, out)
            self.assertIn("hang: to_visit.join() still waiting after 1000 ms: 1 tasks never marked done", out)
            out, _ = self.crawl(server, "guide_threading_fixed", start, 50, 5)
            self.assertIn("visited 1 pages (1 failed); all 5 workers worked to the end", out)

    def test_threading_fixed_crawls_past_failed_pages(self):
        with harness.Server("--faults", "500:0.2") as server:
            start = server.get_json("/graph/random")["page_id"]
            for tsan in (False, True):
                out, served = self.crawl(server, "guide_threading_fixed", start, 50, 5, tsan=tsan)
                failed = int(re.search(r"visited 50 pages \((\d+) failed\)", out).group(1))
                self.assertEqual(served, 50 - failed)  # the audit counts 200s only


class UnderTSan(unittest.TestCase):
    """The threaded examples, built with -fsanitize=thread: no report, same answers."""

    def test_threaded_examples_are_clean(self):
        cases = [("02-threads/cpu_threads", (20000, 3)), ("05-futures/futures", (3, 2)),
                 ("06-nursery/nursery", (50,)), ("07-parallel-map/parallel_map", (2000, 3)),
                 ("09-producer-consumer/prodcons", (10, 2)), ("12-blocked-array/blocked", (200, 50, 3)),
                 ("pitfalls/false_sharing", (10000, 2))]
        for prog, args in cases:
            with self.subTest(prog=prog):
                run(prog, *args, tsan=True)

    def test_threads_fetching_are_clean(self):
        with harness.Server() as server:
            out, _, _ = run("02-threads/threads", server.url, 4, tsan=True)
            self.assertIn("4 pages", out)


class BadArguments(unittest.TestCase):
    def test_usage_errors_exit_2_with_one_line(self):
        for prog, args in [("01-sequential/sequential", ("http://127.0.0.1:1/", "x")),
                           ("05-futures/futures", ("0",)), ("12-blocked-array/blocked", ("100", "30")),
                           ("pitfalls/race", ("-5",))]:
            with self.subTest(prog=prog):
                _, err, rc = run(prog, *args, expect_rc=None)
                self.assertIn(rc, (1, 2), err)
                self.assertNotIn("Sanitizer", err)
                self.assertTrue(err.strip(), "no error message")

    def test_missing_arguments_are_a_usage_error(self):
        for prog in ("guide_asyncio", "guide_asyncio_fixed", "guide_futures", "guide_futures_fixed",
                     "guide_threading", "guide_threading_fixed"):
            with self.subTest(prog=prog):
                _, err, _ = run("pitfalls/" + prog, expect_rc=2)
                self.assertIn("missing arguments\nusage: ", err)

    def test_bad_number_is_a_usage_error(self):
        _, err, rc = run("02-threads/cpu_threads", "many", expect_rc=2)
        self.assertIn("bad argument 'many'", err)


if __name__ == "__main__":
    harness.main()
