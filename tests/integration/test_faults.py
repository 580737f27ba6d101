"""Faults and latency: the per-request knobs do exactly what they say on the wire (raw sockets, so
a reset, a close, a truncation, a hang and a trickle are each seen as they are), --fail-first,
fault rates within statistical bounds, fault decisions identical for a sequential and a 100-way
concurrent client, and latency distributions read from Server-Timing."""
import json
import math
import random
import re
import socket
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import Incomplete, RawConn, Server


def server_timing_ms(headers):
    m = re.fullmatch(r"delay;dur=(\d+\.\d{3})", headers.get("server-timing", ""))
    assert m, "bad Server-Timing %r" % headers.get("server-timing")
    return float(m.group(1))


def wire_fetch(port, path, hang_after=1.0, headers=()):
    """One request on its own connection ("Connection: close"), read to the end. Returns (outcome,
    detail): outcome is the status as a string when a whole response came, "reset" for an RST before
    any byte, "close" for EOF before any byte, "truncate" for EOF before Content-Length body bytes,
    "hang" when nothing arrives for hang_after seconds. detail: (status, headers, body, recv chunks,
    seconds, total bytes) for responses, the bytes received otherwise."""
    s = socket.create_connection((harness.LOCALHOST, port), timeout=10)
    try:
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % path
        req += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        t0 = time.monotonic()
        s.sendall(req.encode())
        data, chunks = b"", 0
        s.settimeout(hang_after)
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return ("reset" if not data else "reset-after-data"), data
            except socket.timeout:
                return ("hang" if not data else "stalled"), data
            if not chunk:
                break
            data += chunk
            chunks += 1
        elapsed = time.monotonic() - t0
    finally:
        s.close()
    if not data:
        return "close", data
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return "truncated-head", data
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    length = int(hdrs["content-length"])
    if len(body) < length:
        return "truncate", data
    if len(body) > length:
        return "overlong", data
    return str(status), (status, hdrs, body, chunks, elapsed, len(data))


class Knobs(unittest.TestCase):
    """Per-request knobs (?fault=, ?latency=, ?fail_first= and their headers) on a fault-free server."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--seed", "21", "--pages", "2000", "--retry-after", "7",
                         "--slow-chunk", "16", "--slow-interval", "20ms")
        cls.ids = harness.page_ids(cls.srv, 2000)
        cls.next_id = 0
        cls.bodies = {}

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def fresh(self):
        """A page no earlier test requested (its attempt counter is still 0)."""
        pid = self.ids[Knobs.next_id]
        Knobs.next_id += 1
        return pid

    def body_of(self, pid):
        status, _, body = self.srv.request("/api/%s?fault=none" % pid)
        self.assertEqual(status, 200)
        return body

    def test_status_faults_and_retry_after(self):
        for kind, retry in (("500", None), ("503", "7"), ("429", "7")):
            for how in ("query", "header"):
                with self.subTest(kind=kind, how=how), RawConn(self.srv.port) as c:
                    pid = self.fresh()
                    if how == "query":
                        c.get("/api/%s?fault=%s" % (pid, kind))
                    else:
                        c.get("/api/" + pid, headers=[("X-Crawlbench-Fault", kind)])
                    r = c.read_response()
                    self.assertEqual(r.status, int(kind))
                    self.assertEqual(r.headers.get("retry-after"), retry)
                    self.assertEqual(r.headers["content-type"], "application/json")
                    self.assertIsInstance(r.json()["error"], str)
                    # the connection stays usable, and the page itself is fine
                    c.get("/api/" + pid)
                    r2 = c.read_response()
                    self.assertEqual(r2.status, 200)
                    self.assertEqual(r2.json()["page_id"], pid)

    def test_fault_none_and_bad_knobs(self):
        pid = self.fresh()
        self.assertEqual(wire_fetch(self.srv.port, "/api/%s?fault=none" % pid)[0], "200")
        for q in ("fault=bogus", "fault=", "latency=soon", "latency=uniform:5ms", "fail_first=x",
                  "fail_first=-1", "fault=%zz"):
            with self.subTest(q=q):
                status, headers, body = self.srv.request("/api/%s?%s" % (pid, q))
                self.assertEqual(status, 400)
                self.assertIn("error", json.loads(body))
        status, _, _ = self.srv.request("/api/" + pid, headers={"X-Crawlbench-Fault": "nonsense"})
        self.assertEqual(status, 400)

    def test_reset(self):
        for path, hdrs in (("/api/%s?fault=reset", ()), ("/api/%s", (("X-Crawlbench-Fault", "reset"),))):
            outcome, data = wire_fetch(self.srv.port, path % self.fresh(), headers=hdrs)
            self.assertEqual((outcome, data), ("reset", b""))
        # also on a keep-alive connection, after an answered request
        with RawConn(self.srv.port) as c:
            pid = self.fresh()
            c.get("/api/" + pid)
            self.assertEqual(c.read_response().status, 200)
            c.get("/api/%s?fault=reset" % pid)
            with self.assertRaises(Incomplete) as cm:
                c.read_response()
            self.assertEqual((cm.exception.how, cm.exception.data), ("reset", b""))

    def test_close(self):
        outcome, data = wire_fetch(self.srv.port, "/api/%s?fault=close" % self.fresh())
        self.assertEqual((outcome, data), ("close", b""))
        with RawConn(self.srv.port) as c:  # an earlier answer on the connection still arrives whole
            pid = self.fresh()
            c.send(("GET /api/%s HTTP/1.1\r\nHost: a\r\n\r\nGET /api/%s?fault=close HTTP/1.1\r\nHost: a\r\n\r\n"
                    % (pid, pid)).encode())
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.read_until_closed(5), ("eof", b""))

    def test_truncate(self):
        pid = self.fresh()
        full = self.body_of(pid)
        outcome, data = wire_fetch(self.srv.port, "/api/%s?fault=truncate" % pid)
        self.assertEqual(outcome, "truncate", data)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        length = int(re.search(rb"\r\nContent-Length: (\d+)", head).group(1))
        self.assertEqual(length, len(full))
        self.assertGreater(len(body), 0)
        self.assertLess(len(body), length)
        self.assertLessEqual(abs(len(body) - length / 2), 1, "about half the body")
        self.assertEqual(body, full[:len(body)], "the part sent is the real body's prefix")

    def test_hang(self):
        pid = self.fresh()
        hung = socket.create_connection((harness.LOCALHOST, self.srv.port), timeout=10)
        try:
            hung.sendall(("GET /api/%s?fault=hang HTTP/1.1\r\nHost: a\r\n\r\n" % pid).encode())
            hung.settimeout(1.0)
            t0 = time.monotonic()
            with self.assertRaises(socket.timeout):
                hung.recv(1)
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)
            # meanwhile others are served promptly
            t0 = time.monotonic()
            self.assertEqual(wire_fetch(self.srv.port, "/api/" + self.fresh())[0], "200")
            self.assertLess(time.monotonic() - t0, 1.0)
        finally:
            hung.close()
        self.assertEqual(wire_fetch(self.srv.port, "/api/" + pid)[0], "200")

    def test_slow(self):
        pid = self.fresh()
        full = self.body_of(pid)
        outcome, detail = wire_fetch(self.srv.port, "/api/%s?fault=slow" % pid)
        self.assertEqual(outcome, "200", detail)
        status, headers, body, chunks, elapsed, total = detail
        self.assertEqual(body, full)
        pieces = math.ceil(total / 16)
        self.assertGreaterEqual(chunks, pieces // 2, "the answer should arrive in many pieces")
        self.assertGreaterEqual(elapsed, (pieces - 1) * 0.020 * 0.9,
                                "%d pieces of 16 bytes every 20ms took %.3fs" % (pieces, elapsed))

    def test_slow_then_keep_alive(self):
        pid = self.fresh()
        with RawConn(self.srv.port) as c:
            c.send(("GET /api/%s?fault=slow HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n"
                    % pid).encode())
            r = c.read_response(timeout=20)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, self.body_of(pid))
            # the request that waited behind the trickle is answered without the client doing more
            self.assertEqual(c.read_response(timeout=3).json(), {"status": "ok"})

    def test_pipelined_after_delayed_reply(self):
        pid = self.fresh()
        with RawConn(self.srv.port) as c:
            c.send(("GET /api/%s?latency=20ms HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET /health HTTP/1.1\r\nHost: a\r\n\r\n" % pid).encode())
            self.assertEqual(c.read_response().json()["page_id"], pid)
            self.assertEqual(c.read_response(timeout=3).json(), {"status": "ok"})

    def test_fail_first_knob(self):
        pid = self.fresh()
        got = [self.srv.request("/api/%s?fail_first=1" % pid)[0] for _ in range(3)]
        self.assertEqual(got, [503, 200, 200])
        pid = self.fresh()
        got = [self.srv.request("/api/" + pid, headers={"X-Crawlbench-Fail-First": "2"})[0] for _ in range(4)]
        self.assertEqual(got, [503, 503, 200, 200])
        # attempts count every request for the page, knob or not
        pid = self.fresh()
        self.assertEqual(self.srv.request("/api/" + pid)[0], 200)
        self.assertEqual(self.srv.request("/api/%s?fail_first=1" % pid)[0], 200)
        self.assertEqual(self.srv.request("/api/%s?fail_first=3" % pid)[0], 503)

    def test_latency_knobs(self):
        for _ in range(10):
            pid = self.fresh()
            t0 = time.monotonic()
            status, headers, _ = self.srv.request("/api/%s?latency=uniform:10ms-20ms" % pid)
            elapsed = time.monotonic() - t0
            self.assertEqual(status, 200)
            dur = server_timing_ms(headers)
            self.assertGreaterEqual(dur, 10.0)
            self.assertLessEqual(dur, 20.0)
            self.assertGreaterEqual(elapsed * 1000, dur - 1)
        t0 = time.monotonic()
        status, headers, _ = self.srv.request("/api/" + self.fresh(), headers={"X-Crawlbench-Latency": "30ms"})
        self.assertEqual(server_timing_ms(headers), 30.0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.029)
        status, headers, _ = self.srv.request("/api/%s?latency=normal:5ms,1ms" % self.fresh())
        self.assertLess(abs(server_timing_ms(headers) - 5.0), 6.0)
        self.assertEqual(server_timing_ms(self.srv.request("/api/" + self.fresh())[1]), 0.0)

    def test_lognormal_latency(self):
        ids = [self.fresh() for _ in range(1000)]
        durs = []
        lock = threading.Lock()

        def run(chunk):
            out = []
            with RawConn(self.srv.port) as c:
                for pid in chunk:
                    for _ in range(2):  # two attempts per page: 2000 independent draws
                        c.get("/api/%s?latency=lognormal:1ms,10ms" % pid)
                        r = c.read_response()
                        assert r.status == 200, r
                        out.append(server_timing_ms(r.headers))
            with lock:
                durs.extend(out)

        with ThreadPoolExecutor(16) as ex:
            list(ex.map(run, [ids[i::16] for i in range(16)]))
        self.assertEqual(len(durs), 2000)
        durs.sort()
        median = (durs[999] + durs[1000]) / 2
        p99 = durs[int(0.99 * len(durs))]
        self.assertLess(abs(median - 1.0), 0.10, "median %.3f ms" % median)
        self.assertLess(abs(p99 - 10.0), 2.5, "p99 %.3f ms" % p99)


class AuditOfFaults(unittest.TestCase):
    def test_audit_counts_faults_and_only_real_200s(self):
        """Each injected fault is counted once by kind. requests.api counts "HTTP responses sent ...
        by route and status" (its /metrics HELP): a reset, a close, a hang and a truncated answer are
        not 200 responses sent, so "200" must count only the one complete answer (the slow one),
        matching pages_served + duplicate_fetches."""
        with Server("--hang-timeout", "200ms", "--pages", "100") as s:
            ids = harness.page_ids(s, 10)
            s.reset()
            expect = {"reset": "reset", "close": "close", "truncate": "truncate", "hang": "close",
                      "slow": "200", "500": "500", "503": "503", "429": "429"}
            for pid, (kind, outcome) in zip(ids, expect.items()):
                self.assertEqual(wire_fetch(s.port, "/api/%s?fault=%s" % (pid, kind), hang_after=3)[0], outcome, kind)
            a = s.stats()["audit"]
            self.assertEqual(a["faults"], {k: 1 for k in expect})
            self.assertEqual((a["pages_served"], a["duplicate_fetches"]), (1, 0))
            self.assertEqual(a["requests"]["api"].get("500"), 1)
            self.assertEqual(a["requests"]["api"].get("503"), 1)
            self.assertEqual(a["requests"]["api"].get("429"), 1)
            self.assertEqual(a["requests"]["api"].get("200"), a["pages_served"] + a["duplicate_fetches"],
                             "api 200 count %r includes connections that got no 200" % a["requests"]["api"])


class Latency(unittest.TestCase):
    def test_fixed_latency(self):
        with Server("--latency", "50ms") as s:
            pid = harness.page_ids(s, 1)[0]
            for _ in range(3):
                t0 = time.monotonic()
                status, headers, _ = s.request("/api/" + pid)
                elapsed = time.monotonic() - t0
                self.assertEqual(status, 200)
                self.assertEqual(headers["server-timing"], "delay;dur=50.000")
                self.assertGreaterEqual(elapsed, 0.050)
            self.assertNotIn("server-timing", s.request("/health")[1])
            self.assertEqual(s.stats()["server"]["latency"], "50ms")
            # the knob overrides the server's latency
            status, headers, _ = s.request("/api/%s?latency=0" % pid)
            self.assertEqual(headers["server-timing"], "delay;dur=0.000")


class FailFirst(unittest.TestCase):
    def test_fail_first_2(self):
        with Server("--fail-first", "2", "--pages", "200") as s:
            ids = harness.page_ids(s, 20)
            for pid in ids:
                seq = [s.request("/api/" + pid) for _ in range(4)]
                self.assertEqual([r[0] for r in seq], [503, 503, 200, 200], pid)
                self.assertEqual(seq[0][1].get("retry-after"), "1")
            st = s.stats()
            self.assertEqual(st["audit"]["faults"]["503"], 40)
            self.assertEqual(st["audit"]["pages_served"], 20)
            self.assertEqual(st["server"]["fail_first"], 2)

    def test_fail_first_with_reset(self):
        with Server("--fail-first", "1", "--fail-with", "reset", "--pages", "200") as s:
            for pid in harness.page_ids(s, 5):
                self.assertEqual(wire_fetch(s.port, "/api/" + pid), ("reset", b""))
                self.assertEqual(wire_fetch(s.port, "/api/" + pid)[0], "200")

    def test_hang_timeout(self):
        with Server("--hang-timeout", "300ms") as s:
            pid = harness.page_ids(s, 1)[0]
            t0 = time.monotonic()
            outcome, data = wire_fetch(s.port, "/api/%s?fault=hang" % pid, hang_after=5)
            elapsed = time.monotonic() - t0
            self.assertEqual((outcome, data), ("close", b""), "closed with no answer after --hang-timeout")
            self.assertGreaterEqual(elapsed, 0.25)
            self.assertLess(elapsed, 3.0)


class Rates(unittest.TestCase):
    def test_rates_within_bounds(self):
        pages, attempts = 1000, 3
        rates = {"500": 0.1, "503": 0.1, "429": 0.1}
        with Server("--seed", "5", "--pages", pages, "--faults", "500:0.1,503:0.1,429:0.1") as s:
            ids = harness.page_ids(s, pages)
            s.reset()
            counts = {}
            with RawConn(s.port) as c:
                for _ in range(attempts):
                    for pid in ids:
                        c.get("/api/" + pid)
                        r = c.read_response()
                        counts[r.status] = counts.get(r.status, 0) + 1
                        if r.status in (503, 429):
                            self.assertEqual(r.headers.get("retry-after"), "1")
            n = pages * attempts
            self.assertEqual(sum(counts.values()), n)
            self.assertEqual(set(counts), {200, 500, 503, 429})
            for code, rate in list(rates.items()) + [("200", 0.7)]:
                mean, sigma = n * rate, math.sqrt(n * rate * (1 - rate))
                self.assertLess(abs(counts[int(code)] - mean), 5 * sigma, "%s: %d of %d" % (code, counts[int(code)], n))
            a = s.stats()["audit"]
            self.assertEqual({k: v for k, v in a["faults"].items() if v}, {str(k): v for k, v in counts.items() if k != 200})
            self.assertEqual(a["requests"]["api"], {str(k): v for k, v in counts.items()})


MIX = "500:0.05,503:0.05,429:0.05,reset:0.05,close:0.05,truncate:0.05,slow:0.05,hang:0.005"


class FaultDeterminism(unittest.TestCase):
    """The same (page, attempt) requests meet the same faults whether they come one by one or from
    100 clients at once in a shuffled order."""

    def test_sequential_equals_concurrent(self):
        n_pages, attempts = 100, 6
        with Server("--seed", "2024", "--pages", "500", "--faults", MIX,
                    "--slow-chunk", "64", "--slow-interval", "5ms") as s:
            ids = harness.page_ids(s, n_pages)
            s.reset()

            def attempts_of(pid):
                out = []
                for k in range(attempts):
                    outcome, detail = wire_fetch(s.port, "/api/" + pid, hang_after=1.0)
                    if outcome == "200":
                        assert json.loads(detail[2])["page_id"] == pid
                    out.append((pid, k, outcome))
                return out

            sequential = [x for pid in ids for x in attempts_of(pid)]
            faults_seq = s.stats()["audit"]["faults"]
            s.reset()
            order = list(ids)
            random.Random(7).shuffle(order)
            with ThreadPoolExecutor(100) as ex:
                concurrent = [x for chunk in ex.map(attempts_of, order) for x in chunk]
            faults_con = s.stats()["audit"]["faults"]

        kinds = {}
        for _, _, outcome in sequential:
            kinds[outcome] = kinds.get(outcome, 0) + 1
        # the mix must actually have produced every kind, or the comparison proves little
        for k in ("200", "500", "503", "429", "reset", "close", "truncate", "hang"):
            self.assertIn(k, kinds, kinds)
        self.assertEqual(set(kinds) - {"200", "500", "503", "429", "reset", "close", "truncate", "hang"}, set())
        self.assertEqual(len(concurrent), len(sequential))
        self.assertEqual(sorted(concurrent), sorted(sequential))
        self.assertEqual(faults_seq, faults_con)
        self.assertGreater(faults_seq["slow"], 0)
        for k in ("500", "503", "429", "reset", "close", "truncate", "hang"):
            self.assertEqual(faults_seq[k], kinds[k], k)


if __name__ == "__main__":
    harness.main()
