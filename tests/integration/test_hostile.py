"""Hostile and careless clients: malformed requests (table-driven, after each one a fresh client is
served), size limits at their exact bounds, slow loris, thousands of idle connections, clients that
vanish mid-response, deep pipelines, --max-conns and --idle-timeout. The harness checks at the end
that the server exits 0 without a sanitizer report."""
import select
import socket
import time
import unittest

import harness
from harness import Incomplete, RawConn, Server


def head(lines, crlf=b"\r\n"):
    return crlf.join(lines) + crlf + crlf


def long_line(total):
    """A request line for /x... of exactly `total` bytes, CRLF included."""
    fixed = len(b"GET / HTTP/1.1\r\n")
    return b"GET /" + b"x" * (total - fixed) + b" HTTP/1.1\r\n"


def padded_head(total):
    """A whole GET /health head of exactly `total` bytes, padded with one long header."""
    start = b"GET /health HTTP/1.1\r\nHost: a\r\nX-Pad: "
    return start + b"p" * (total - len(start) - 4) + b"\r\n\r\n"


H = b"GET /health HTTP/1.1\r\nHost: a\r\n"  # one header already


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)

# name, request bytes, expected status. 400 ones come from the parser's strictness rules.
BAD = [
    ("bad method char", b"G(T /health HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("empty method", b" /health HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("missing version", b"GET /health\r\nHost: a\r\n\r\n", 400),
    ("HTTP/2.0", b"GET /health HTTP/2.0\r\nHost: a\r\n\r\n", 400),
    ("HTTP/1.2", b"GET /health HTTP/1.2\r\nHost: a\r\n\r\n", 400),
    ("lowercase version", b"GET /health http/1.1\r\nHost: a\r\n\r\n", 400),
    ("two spaces", b"GET  /health HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("trailing space", b"GET /health HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    ("absolute-form target", b"GET http://127.0.0.1/health HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("non-ASCII target", b"GET /api/\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("control byte in target", b"GET /he\x01alth HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("space before colon", H + b"X-A : a\r\n\r\n", 400),
    ("tab before colon", H + b"X-A\t: a\r\n\r\n", 400),
    ("obs-fold", H + b"X-A: a\r\n b\r\n\r\n", 400),
    ("NUL in header value", H + b"X-A: a\x00b\r\n\r\n", 400),
    ("NUL in header name", H + b"X-\x00A: a\r\n\r\n", 400),
    ("empty header name", H + b": a\r\n\r\n", 400),
    ("no colon", H + b"X-A a\r\n\r\n", 400),
    ("bare CR ends request line", b"GET /health HTTP/1.1\rHost: a\r\n\r\n", 400),
    ("bare CR in header value", H + b"X-A: a\rb\r\n\r\n", 400),
    ("bare CR line", H + b"X-A: a\r\n\r\r\n\r\n", 400),
    ("Transfer-Encoding chunked", H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding with Content-Length", H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),
    ("Content-Length not a number", H + b"Content-Length: abc\r\n\r\n", 400),
    ("negative Content-Length", H + b"Content-Length: -1\r\n\r\n", 400),
    ("conflicting Content-Lengths", H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("Content-Length list", H + b"Content-Length: 1, 2\r\n\r\nab", 400),
    ("Content-Length overflow", H + b"Content-Length: 99999999999999999999999\r\n\r\n", 400),
    ("body over 64 KiB", H + b"Content-Length: 100000\r\n\r\n", 413),
    ("body just over 64 KiB", H + b"Content-Length: 65537\r\n\r\n", 413),
    ("request line 8193 bytes", long_line(8193) + b"Host: a\r\n\r\n", 414),
    ("request line without end", b"GET /" + b"x" * 9000, 414),
    ("70 headers", H + b"".join(b"X-H%d: v\r\n" % i for i in range(69)) + b"\r\n", 431),
    ("65 headers", H + b"".join(b"X-H%d: v\r\n" % i for i in range(64)) + b"\r\n", 431),
    ("head 16385 bytes", padded_head(16385), 431),
    ("20 KB of headers", H + b"".join(b"X-Header-%04d: %s\r\n" % (i, b"v" * 40) for i in range(400)) + b"\r\n", 431),
    ("too many empty lines first", b"\r\n" * 12 + b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 400),
]

# Requests at the edge of the rules that must still be served: name, bytes, expected status.
GOOD = [
    ("bare LF line endings", b"GET /health HTTP/1.1\nHost: a\n\n", 200),
    ("empty lines before the request", b"\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ("OWS around value", H + b"X-A: \t a b \t\r\n\r\n", 200),
    ("obs-text in value", H + b"X-A: caf\xc3\xa9\r\n\r\n", 200),
    ("request line 8192 bytes", long_line(8192) + b"Host: a\r\n\r\n", 404),
    ("64 headers", H + b"".join(b"X-H%d: v\r\n" % i for i in range(63)) + b"\r\n", 200),
    ("head 16384 bytes", padded_head(16384), 200),
    ("body 64 KiB", b"POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n" + b"b" * 65536, 405),
    ("Content-Length repeated equal", b"POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 405),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 404),
]


class Malformed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--pages", "500")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assert_served(self):
        with RawConn(self.srv.port, timeout=5) as c:
            c.get("/health")
            self.assertEqual(c.read_response().status, 200)

    def test_bad_requests_get_an_error_and_close(self):
        for name, data, status in BAD:
            with self.subTest(name=name):
                with RawConn(self.srv.port, timeout=5) as c:
                    c.send(data)
                    try:
                        r = c.read_response()
                    except Incomplete as e:
                        self.fail("%s: no response, connection ended (%s) after %r" % (name, e.how, e.data[:100]))
                    self.assertEqual(r.status, status, r)
                    self.assertEqual(r.headers.get("connection"), "close")
                    self.assertEqual(r.headers.get("content-type"), "application/json")
                    self.assertIsInstance(r.json().get("error"), str)
                    how, rest = c.read_until_closed(5)
                    self.assertEqual(rest, b"", "bytes after the error response")
                self.assert_served()

    def test_bad_request_after_good_one_on_same_connection(self):
        with RawConn(self.srv.port) as c:
            c.send(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/9.9\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.read_response().status, 400)
            self.assertEqual(c.read_until_closed(5), ("eof", b""))
        self.assert_served()

    def test_edge_cases_are_served(self):
        for name, data, status in GOOD:
            with self.subTest(name=name), RawConn(self.srv.port, timeout=5) as c:
                c.send(data)
                r = c.read_response()
                self.assertEqual(r.status, status, r)
                self.assertNotEqual(r.headers.get("connection"), "close")
                c.get("/health")  # and the connection is still usable
                self.assertEqual(c.read_response().status, 200)

    def test_request_trickled_byte_by_byte(self):
        pid = harness.page_ids(self.srv, 1)[0]
        req = ("GET /api/%s HTTP/1.1\r\nHost: a\r\nX-Long: %s\r\n\r\n" % (pid, "z" * 200)).encode()
        with RawConn(self.srv.port) as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(req)):
                c.send(req[i:i + 1])
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["page_id"], pid)

    def test_pipeline_100_in_order(self):
        ids = harness.page_ids(self.srv, 50)
        paths = []
        for i in range(100):
            paths.append("/api/" + ids[i % 50] if i % 3 else ("/health" if i % 2 else "/graph/sample?n=%d" % (i % 7)))
        with RawConn(self.srv.port) as c:
            c.send(b"".join(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % p.encode() for p in paths))
            for i, p in enumerate(paths):
                r = c.read_response()
                self.assertEqual(r.status, 200, (i, p))
                doc = r.json()
                if p.startswith("/api/"):
                    self.assertEqual(doc["page_id"], p[5:], i)
                elif p == "/health":
                    self.assertEqual(doc, {"status": "ok"}, i)
                else:
                    self.assertEqual(len(doc["page_ids"]), i % 7, i)
            self.assertEqual(c.buf, b"")

    def test_pipeline_ends_with_close(self):
        with RawConn(self.srv.port) as c:
            c.send(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n" * 3 + b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                   + b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            for _ in range(4):
                self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.read_until_closed(5), ("eof", b""), "nothing is answered after Connection: close")


class Disconnects(unittest.TestCase):
    """Clients that go away at awkward moments; the server keeps serving and shuts down clean."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--pages", "500", "--slow-chunk", "8", "--slow-interval", "10ms")
        cls.ids = harness.page_ids(cls.srv, 100)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def open_conns(self):
        return self.srv.stats()["server"]["connections_open"]

    def assert_settles(self):
        """Others are served, and the abandoned connections are closed (only the stats one is left)."""
        with RawConn(self.srv.port) as c:
            c.get("/api/" + self.ids[0])
            self.assertEqual(c.read_response().status, 200)
        harness.wait_until(lambda: self.open_conns() == 1, 10, what="connections_open back to 1")

    def test_close_during_slow_response(self):
        for pid in self.ids[:5]:
            s = socket.create_connection((harness.LOCALHOST, self.srv.port), timeout=5)
            s.sendall(("GET /api/%s?fault=slow HTTP/1.1\r\nHost: a\r\n\r\n" % pid).encode())
            self.assertEqual(s.recv(4), b"HTTP")
            s.close()
        self.assert_settles()

    def test_close_during_delay(self):
        for pid in self.ids[5:10]:
            s = socket.create_connection((harness.LOCALHOST, self.srv.port), timeout=5)
            s.sendall(("GET /api/%s?latency=200ms HTTP/1.1\r\nHost: a\r\n\r\n" % pid).encode())
            s.close()
        s = socket.create_connection((harness.LOCALHOST, self.srv.port), timeout=5)
        s.sendall(("GET /api/%s?fault=hang HTTP/1.1\r\nHost: a\r\n\r\n" % self.ids[10]).encode())
        s.close()
        self.assert_settles()

    def test_pipeline_1000_then_close_without_reading(self):
        reqs = b"".join(b"GET /api/%s HTTP/1.1\r\nHost: a\r\n\r\n" % self.ids[i % 100].encode() for i in range(1000))
        for _ in range(3):
            s = socket.create_connection((harness.LOCALHOST, self.srv.port), timeout=5)
            s.sendall(reqs)
            s.close()
        self.assert_settles()

    def test_client_that_never_reads(self):
        """A client sending requests without reading answers is throttled, not buffered without end;
        others are served meanwhile."""
        reqs = b"".join(b"GET /api/%s HTTP/1.1\r\nHost: a\r\n\r\n" % self.ids[i % 100].encode() for i in range(1000))
        rss_before = rss_kib(self.srv.pid)
        s = socket.create_connection((harness.LOCALHOST, self.srv.port), timeout=5)
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 15
        blocked = False
        # Kernel buffers on both sides absorb a few MB first; after that the server must stop reading.
        while time.monotonic() < deadline and sent < (64 << 20):
            _, w, _ = select.select([], [s], [], 0.5)
            if not w:
                blocked = True
                break
            try:
                sent += s.send(reqs)
            except BlockingIOError:
                continue
        self.assertTrue(blocked, "the server kept reading %d bytes from a client that reads nothing" % sent)
        growth = rss_kib(self.srv.pid) - rss_before
        self.assertLess(growth, 64 << 10, "server RSS grew %d KiB for one client that does not read" % growth)
        with RawConn(self.srv.port, timeout=5) as c:
            c.get("/health")
            self.assertEqual(c.read_response().status, 200)
        s.close()
        self.assert_settles()


class Load(unittest.TestCase):
    def test_large_responses_pipelined(self):
        """1.1 MB answers, three pipelined: partial writes and the output high-water mark at work."""
        with Server("--pages", "100000") as srv:
            with RawConn(srv.port, timeout=30) as c:
                c.send(b"GET /graph/sample?n=100000 HTTP/1.1\r\nHost: a\r\n\r\n" * 3 + b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
                first = None
                for _ in range(3):
                    r = c.read_response()
                    self.assertEqual(r.status, 200)
                    ids = r.json()["page_ids"]
                    self.assertEqual(len(ids), 100000)
                    self.assertEqual(len(set(ids)), 100000)
                    first = first or r.body
                    self.assertEqual(r.body, first)
                self.assertEqual(c.read_response().json(), {"status": "ok"})

    def test_mixed_concurrent_traffic(self):
        """16 keep-alive clients mixing routes, stats resets, slow and delayed answers and connection
        faults; every answer must be right, and the server must exit clean afterwards."""
        import random
        from concurrent.futures import ThreadPoolExecutor
        with Server("--pages", "1000", "--slow-chunk", "64", "--slow-interval", "1ms") as srv:
            ids = harness.page_ids(srv, 1000)

            def client(k):
                rnd, errors, answered = random.Random(k), [], 0
                c = RawConn(srv.port, timeout=10)
                for _ in range(250):
                    x, pid = rnd.random(), rnd.choice(ids)
                    if x < 0.05:  # a fault that ends the connection, then a new one
                        c.get("/api/%s?fault=%s" % (pid, rnd.choice(["reset", "close", "truncate"])))
                        try:
                            c.read_response()
                            errors.append("a connection fault was answered")
                        except Incomplete:
                            pass
                        c.close()
                        c = RawConn(srv.port, timeout=10)
                        continue
                    path = ("/graph/stats" if x < 0.1 else "/metrics" if x < 0.15 else
                            "/api/%s?fault=slow" % pid if x < 0.2 else "/api/%s?latency=1ms" % pid if x < 0.25 else
                            "/api/" + pid)
                    if x < 0.07:
                        c.get("/graph/stats/reset", method="POST")
                    else:
                        c.get(path)
                    r = c.read_response()
                    answered += 1
                    if r.status != 200:
                        errors.append((path, r.status))
                    elif path.startswith("/api/") and r.json()["page_id"] != pid:
                        errors.append((path, "wrong page"))
                c.close()
                return answered, errors

            with ThreadPoolExecutor(16) as ex:
                results = list(ex.map(client, range(16)))
            self.assertEqual([e for _, e in results if e], [])
            self.assertGreater(sum(n for n, _ in results), 3000)
            harness.wait_until(lambda: srv.stats()["server"]["connections_open"] == 1, 10,
                               what="connections_open back to 1")


class SlowLoris(unittest.TestCase):
    def test_slow_loris_gets_408_and_others_stay_fast(self):
        with Server("--header-timeout", "1s") as srv:
            pid = harness.page_ids(srv, 1)[0]
            loris = socket.create_connection((harness.LOCALHOST, srv.port), timeout=5)
            probe = RawConn(srv.port, timeout=5)
            payload = b"GET /health HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"s" * 100
            t0 = time.monotonic()
            latencies, got, i = [], b"", 0
            next_byte = t0
            ended = None
            while time.monotonic() - t0 < 5:
                if time.monotonic() >= next_byte and i < len(payload):
                    try:
                        loris.sendall(payload[i:i + 1])
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    i += 1
                    next_byte += 0.2
                r, _, _ = select.select([loris], [], [], 0)
                if r:
                    try:
                        chunk = loris.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                    got += chunk
                    if not chunk:
                        ended = time.monotonic() - t0
                        break
                t1 = time.monotonic()
                probe.get("/api/" + pid)
                self.assertEqual(probe.read_response().status, 200)
                latencies.append(time.monotonic() - t1)
                time.sleep(0.02)  # pacing only: the loop ends on the loris's EOF
            loris.close()
            probe.close()
            self.assertIsNotNone(ended, "the slow client was never cut off")
            self.assertGreaterEqual(ended, 0.9)
            self.assertLess(ended, 2.5, "cut off after %.2fs with --header-timeout 1s" % ended)
            if got:
                self.assertTrue(got.startswith(b"HTTP/1.1 408 "), got[:100])
            self.assertGreater(len(latencies), 10)
            self.assertLess(max(latencies), 0.2, "max latency of the other client %.3fs" % max(latencies))

    def test_idle_timeout(self):
        with Server("--idle-timeout", "300ms") as srv:
            with RawConn(srv.port) as c:
                c.get("/health")
                self.assertEqual(c.read_response().status, 200)
                t0 = time.monotonic()
                self.assertEqual(c.read_until_closed(5), ("eof", b""))
                elapsed = time.monotonic() - t0
                self.assertGreaterEqual(elapsed, 0.25)
                self.assertLess(elapsed, 2.0)
            with socket.create_connection((harness.LOCALHOST, srv.port), timeout=5) as s:  # never sends
                t0 = time.monotonic()
                self.assertEqual(s.recv(10), b"")
                self.assertLess(time.monotonic() - t0, 2.0)


class ManyConnections(unittest.TestCase):
    def test_5000_idle_connections(self):
        n = 5000
        limit = harness.raise_nofile(n + 500)
        self.assertGreaterEqual(limit, n + 100, "cannot open %d sockets here" % n)
        with Server("--pages", "500") as srv:
            pid = harness.page_ids(srv, 1)[0]
            probe = RawConn(srv.port, timeout=5)
            idle = []
            try:
                for i in range(n):
                    idle.append(socket.create_connection((harness.LOCALHOST, srv.port), timeout=5))
                    if i % 250 == 0:
                        probe.get("/api/" + pid)
                        self.assertEqual(probe.read_response().status, 200, i)

                def opened():
                    probe.get("/graph/stats")
                    return probe.read_response().json()["server"]["connections_open"] >= n + 1
                harness.wait_until(opened, 30, what="%d connections open" % (n + 1))
                t0 = time.monotonic()
                probe.get("/api/" + pid)
                self.assertEqual(probe.read_response().status, 200)
                self.assertLess(time.monotonic() - t0, 1.0)
                # one more request on a few of the idle connections: they are real, working ones
                for s in idle[::1000]:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
                    self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200 "))
            finally:
                for s in idle:
                    s.close()

            def closed():
                probe.get("/graph/stats")
                return probe.read_response().json()["server"]["connections_open"] <= 2
            harness.wait_until(closed, 30, what="connections_open back to small")
            probe.close()


def cpu_seconds(pid):
    import os
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OutOfDescriptors(unittest.TestCase):
    THREADS = 2

    def test_out_of_fds_drops_clients_without_spinning(self):
        """With a hard open-file limit (64) far below --max-conns, a burst of clients must each be
        either served or closed (the spare-fd accept-and-drop), and the server must then sit idle,
        not spin on a listening socket it cannot accept from. Four bursts, as losing the spare fd
        is a race between the two workers."""
        with Server("--pages", "100", threads=self.THREADS, nofile=64) as srv:
            for burst in range(4):
                conns = []
                for _ in range(150):
                    s = socket.create_connection((harness.LOCALHOST, srv.port), timeout=5)
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
                    conns.append(s)
                pending, served, dropped = set(conns), 0, 0
                deadline = time.monotonic() + 3
                while pending and time.monotonic() < deadline:
                    ready, _, _ = select.select(list(pending), [], [], 0.1)
                    for s in ready:
                        try:
                            data = s.recv(100)
                        except ConnectionResetError:
                            data = b""
                        if data.startswith(b"HTTP/1.1 200 "):
                            served += 1
                        else:
                            self.assertEqual(data, b"")
                            dropped += 1
                        pending.discard(s)
                # idle now, with the served clients still holding their descriptors
                c0, t0 = cpu_seconds(srv.pid), time.monotonic()
                time.sleep(0.5)  # a measuring window, not synchronisation
                busy = (cpu_seconds(srv.pid) - c0) / (time.monotonic() - t0)
                for s in conns:
                    s.close()
                self.assertTrue(not pending and busy < 0.3,
                                "burst %d: %d clients neither served nor closed (%d served, %d dropped); "
                                "the idle server then used %.0f%% CPU"
                                % (burst, len(pending), served, dropped, busy * 100))
                self.assertGreater(served, 0)
                harness.wait_until(lambda: srv.stats()["server"]["connections_open"] == 1, 10,
                                   what="connections_open back to 1")


class MaxConns(unittest.TestCase):
    def test_max_conns_50(self):
        with Server("--max-conns", "50") as srv:
            stats = RawConn(srv.port)

            def open_count():
                stats.get("/graph/stats")
                return stats.read_response().json()["server"]["connections_open"]
            idle = [socket.create_connection((harness.LOCALHOST, srv.port), timeout=5) for _ in range(49)]
            try:
                harness.wait_until(lambda: open_count() == 50, 10, what="50 connections open")
                extra = socket.create_connection((harness.LOCALHOST, srv.port), timeout=5)
                try:
                    extra.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
                    try:
                        data = extra.recv(100)
                    except ConnectionResetError:
                        data = b""
                    self.assertEqual(data, b"", "the 51st connection must be closed unanswered")
                finally:
                    extra.close()
                # the 50 are all still served
                for s in idle[::7] + []:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
                    self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200 "))
                self.assertEqual(open_count(), 50)
                idle.pop().close()
                harness.wait_until(lambda: open_count() == 49, 10, what="49 connections open")
                with RawConn(srv.port) as c:  # room again
                    c.get("/health")
                    self.assertEqual(c.read_response().status, 200)
            finally:
                for s in idle:
                    s.close()
                stats.close()


if __name__ == "__main__":
    harness.main()
