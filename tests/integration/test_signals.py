"""SIGTERM and SIGINT: requests in flight are answered in full, new connections are refused, idle
and hung connections do not hold the exit up, --drain-timeout bounds the wait, and the server
exits 0 (no sanitizer report) soon after."""
import signal
import socket
import threading
import time
import unittest

import harness
from harness import Incomplete, RawConn, Server


class InFlight:
    """Sends one request on its own connection from a thread and reads the answer (or the end)."""

    def __init__(self, port, path, timeout=15):
        self.conn = RawConn(port, timeout=timeout)
        self.response = self.error = None
        self.done_at = None
        self.first_byte = threading.Event()
        self.done = threading.Event()
        self.sent_at = time.monotonic()
        self.conn.get(path)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            deadline = time.monotonic() + self.conn.timeout
            while not self.conn.buf:
                self.conn._fill(deadline)
            self.first_byte.set()
            self.response = self.conn.read_response()
            self.rest = self.conn.read_until_closed(5)
        except (Incomplete, OSError) as e:
            self.error = e
        finally:
            self.done_at = time.monotonic()
            self.first_byte.set()
            self.done.set()
            self.conn.close()

    def wait(self, timeout):
        if not self.done.wait(timeout):
            raise AssertionError("the request did not finish within %.1fs" % timeout)


class RoutedProbe:
    """Tells whether a request for page pid has reached the server's router, without relying on when
    the audit counts it. Every /api request for a page takes the page's next attempt number, and
    ?fail_first=K fails exactly the attempts below K. Probe i (i earlier probes) asks with
    fail_first=i+1 and latency=0: its attempt is i, plus 1 once the request in flight was routed, so
    it answers 200 exactly when that request is in (and the server has no faults configured)."""

    def __init__(self, srv, pid):
        self.srv, self.pid, self.probes = srv, pid, 0

    def __call__(self):
        self.probes += 1
        status, _, body = self.srv.request("/api/%s?latency=0&fail_first=%d" % (self.pid, self.probes))
        assert status in (200, 503), (status, body)
        return status == 200


def wait_in_flight(srv, pid):
    harness.wait_until(RoutedProbe(srv, pid), 5, what="the request for %s to be in flight" % pid)


def connect_refused(port):
    try:
        s = socket.create_connection((harness.LOCALHOST, port), timeout=1)
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # reached a listening socket just as it was being closed
        return False
    s.close()
    return False


class Drain(unittest.TestCase):
    def drain_in_flight(self, sig):
        srv = Server("--latency", "500ms", "--pages", "200")
        try:
            pid = harness.page_ids(srv, 1)[0]
            req = InFlight(srv.port, "/api/" + pid)
            wait_in_flight(srv, pid)
            self.assertFalse(req.done.is_set(), "answered before its 500ms delay")
            t_sig = time.monotonic()
            srv.send_signal(sig)
            harness.wait_until(lambda: connect_refused(srv.port), 5, what="new connections to be refused")
            req.wait(10)
            self.assertIsNone(req.error, "the request in flight was not answered: %r" % req.error)
            r = req.response
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["page_id"], pid)
            self.assertEqual(req.rest, ("eof", b""), "the connection closes after the last answer")
            self.assertGreaterEqual(req.done_at, t_sig)
            self.assertGreaterEqual(req.done_at - req.sent_at, 0.5)
            rc = srv.wait_exit(2.0)  # exits soon after the last answer
            err = srv.check_exit(rc, 0)
            self.assertIn("SIGINT" if sig == signal.SIGINT else "SIGTERM", err)
            return r
        finally:
            srv.stop()

    def test_answer_during_drain_announces_the_close(self):
        """The server closes the connection after the drained answer, so that answer should say
        "Connection: close" (RFC 9112 section 9.6), or a client will try to reuse the connection."""
        r = self.drain_in_flight(signal.SIGTERM)
        self.assertEqual(r.headers.get("connection"), "close", r.head_bytes)

    def test_sigterm_drains_request_in_flight(self):
        self.drain_in_flight(signal.SIGTERM)

    def test_sigint_drains_request_in_flight(self):
        self.drain_in_flight(signal.SIGINT)

    def test_slow_response_completes_during_drain(self):
        with Server("--slow-chunk", "16", "--slow-interval", "20ms", "--pages", "200") as srv:
            pid = harness.page_ids(srv, 1)[0]
            full = srv.request("/api/" + pid)[2]
            req = InFlight(srv.port, "/api/%s?fault=slow" % pid)
            self.assertTrue(req.first_byte.wait(5))
            srv.send_signal(signal.SIGTERM)
            req.wait(15)
            self.assertIsNone(req.error)
            self.assertEqual(req.response.body, full)
            srv.check_exit(srv.wait_exit(3.0))

    def test_idle_and_hung_connections_do_not_delay_exit(self):
        with Server("--pages", "200") as srv:  # default --drain-timeout is 10s
            pid = harness.page_ids(srv, 1)[0]
            idle = []
            for _ in range(3):
                c = RawConn(srv.port)
                c.get("/health")
                self.assertEqual(c.read_response().status, 200)
                idle.append(c)
            hung = InFlight(srv.port, "/api/%s?fault=hang" % pid)
            wait_in_flight(srv, pid)
            t0 = time.monotonic()
            srv.send_signal(signal.SIGTERM)
            srv.check_exit(srv.wait_exit(3.0))
            self.assertLess(time.monotonic() - t0, 3.0)
            for c in idle:
                self.assertEqual(c.read_until_closed(5), ("eof", b""))
                c.close()
            hung.wait(5)
            self.assertIsNone(hung.response)

    def test_drain_timeout_bounds_the_wait(self):
        with Server("--drain-timeout", "300ms", "--pages", "200") as srv:
            pid = harness.page_ids(srv, 1)[0]
            req = InFlight(srv.port, "/api/%s?latency=5s" % pid)
            wait_in_flight(srv, pid)
            t0 = time.monotonic()
            srv.send_signal(signal.SIGTERM)
            rc = srv.wait_exit(3.0)
            elapsed = time.monotonic() - t0
            srv.check_exit(rc)
            self.assertGreaterEqual(elapsed, 0.25, "exited before --drain-timeout")
            self.assertLess(elapsed, 3.0)
            req.wait(5)
            self.assertIsNone(req.response, "the 5s request cannot have been answered")

    def test_drain_closes_once_owed_answers_are_sent(self):
        """Answers already made but still queued for a slow reader at SIGTERM are sent in full; then
        the connection closes and the server exits, without waiting out --drain-timeout."""
        with Server("--pages", "100000", "--drain-timeout", "4s") as srv:
            c = RawConn(srv.port, timeout=30)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.send(b"GET /graph/sample?n=100000 HTTP/1.1\r\nHost: a\r\n\r\n" * 10)  # 11 MB of answers
            c._fill(time.monotonic() + 10)  # the first bytes are here: all ten were answered
            t0 = time.monotonic()
            srv.send_signal(signal.SIGTERM)
            for i in range(10):
                r = c.read_response()
                self.assertEqual(r.status, 200, i)
                self.assertEqual(len(r.body), 1100014, i)
            how, rest = c.read_until_closed(10)
            closed_after = time.monotonic() - t0
            c.close()
            self.assertEqual(rest, b"")
            rc = srv.wait_exit(10)
            exit_after = time.monotonic() - t0
            srv.check_exit(rc)
            self.assertLess(closed_after, 2.0, "connection closed %.1fs after SIGTERM (drain timeout 4s)" % closed_after)
            self.assertLess(exit_after, 2.0, "server exited %.1fs after SIGTERM (drain timeout 4s)" % exit_after)

    def test_exit_with_nothing_in_flight(self):
        srv = Server("--pages", "200")
        t0 = time.monotonic()
        srv.stop(signal.SIGINT, timeout=3)
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertTrue(connect_refused(srv.port))


if __name__ == "__main__":
    harness.main()
