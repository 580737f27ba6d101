"""Shared helpers for the integration tests: start and stop a crawlbench server, talk raw HTTP to it,
wait on conditions with deadlines, and run a test module with a "N passed, N failed" summary.

A server runs as its own process (`$CRAWLBENCH serve --port 0 --threads 2 ...`), found by the URL it
prints as its one stdout line, and is stopped by its PID with SIGTERM. Stopping checks that it exited
0 and that its stderr holds no AddressSanitizer, LeakSanitizer or UBSan report. Standard library only.
"""
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LOCALHOST = "127.0.0.1"

# The options tests/run.sh exports; set here too so that a test file run by hand behaves the same.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
SANITIZER_REPORT = re.compile(r"ERROR: \w*Sanitizer|runtime error:|WARNING: ThreadSanitizer")


def binary():
    """The server binary: $CRAWLBENCH (relative to the cwd, else to the repository), default ASan build."""
    path = os.environ.get("CRAWLBENCH", "build/asan/crawlbench")
    if not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(REPO, path)
    return os.path.abspath(path)


def server_env():
    env = dict(os.environ)
    for k, v in SANITIZER_ENV.items():
        env.setdefault(k, v)
    return env


def run_cli(*args, timeout=30):
    """Runs `crawlbench ARGS` to completion; returns (exit code, stdout text, stderr text)."""
    p = subprocess.run([binary(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=server_env())
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def _read_line(fd, deadline):
    """Reads one line from fd, waiting with select() until deadline. Returns b"" at EOF."""
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no line on stdout in time (read %r)" % data)
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1)  # one byte at a time: nothing past the line is consumed
        if not chunk:
            return data
        data += chunk
    return data


class Server:
    """A running `crawlbench serve`. Attributes: url, port, pid, args. Use as a context manager, or
    call stop() yourself; stop() asserts a clean exit (code 0, no sanitizer report)."""

    def __init__(self, *args, threads=2, start_timeout=30, nofile=None):
        """args: extra `serve` options. nofile: the server's RLIMIT_NOFILE (soft and hard)."""
        self.args = [binary(), "serve", "--port", "0", "--threads", str(threads), *map(str, args)]
        self.stderr_file = tempfile.TemporaryFile()
        self.stopped = False
        preexec = None
        if nofile is not None:
            def preexec():
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr_file, env=server_env(), preexec_fn=preexec)
        self.pid = self.proc.pid
        try:
            line = _read_line(self.proc.stdout.fileno(), time.monotonic() + start_timeout)
        except TimeoutError:
            self._kill()
            raise
        m = re.fullmatch(rb"listening on (http://127\.0\.0\.1:(\d+)/)\n", line)
        if not m:
            rc = self._kill()
            raise RuntimeError("server did not start: %r exited %s, stdout %r, stderr:\n%s"
                               % (self.args, rc, line, self.stderr_text()))
        self.url = m.group(1).decode()
        self.port = int(m.group(2))
        self.base = self.url.rstrip("/")

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait(10)
        self.proc.stdout.close()
        self.stopped = True
        return rc

    def stderr_text(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        """Sends sig to this server's PID only."""
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """Waits for the process to exit; returns its code (raises AssertionError on timeout)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError("server %d did not exit within %.1fs; stderr:\n%s"
                                 % (self.pid, timeout, self.stderr_text()[-4000:]))

    def check_exit(self, rc, expect_rc=0):
        """Asserts exit code expect_rc and a stderr without sanitizer reports; returns stderr."""
        self.stopped = True
        self.proc.stdout.close()
        err = self.stderr_text()
        m = SANITIZER_REPORT.search(err)
        if m:
            raise AssertionError("server %d: sanitizer report in stderr:\n%s" % (self.pid, err[-8000:]))
        if rc != expect_rc:
            raise AssertionError("server %d exited %s, expected %s; stderr:\n%s"
                                 % (self.pid, rc, expect_rc, err[-4000:]))
        return err

    def stop(self, sig=signal.SIGTERM, timeout=20, expect_rc=0):
        """SIGTERM (or sig) to the PID, wait, assert a clean exit. Returns stderr text."""
        if self.stopped:
            return self.stderr_text()
        if self.proc.poll() is None:
            self.send_signal(sig)
        return self.check_exit(self.wait_exit(timeout), expect_rc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- convenience clients ----

    def request(self, path, method="GET", headers=None, body=None, timeout=10):
        """One request on a fresh connection (http.client). Returns (status, headers dict with
        lowercase names, body bytes)."""
        return http_request(self.port, path, method, headers, body, timeout)

    def get_json(self, path, expect=200, timeout=10):
        status, headers, body = self.request(path, timeout=timeout)
        if status != expect:
            raise AssertionError("GET %s: status %d, expected %d, body %r" % (path, status, expect, body[:300]))
        return json.loads(body)

    def stats(self):
        return self.get_json("/graph/stats")

    def page_attempts(self):
        """{page_id: requests the server saw for it} since the last reset, from /graph/stats/pages
        (paged: 'next' is the page number to continue from, null at the end)."""
        attempts, start = {}, 0
        while start is not None:
            doc = self.get_json("/graph/stats/pages?from=%d&limit=1000" % start)
            attempts.update(doc["attempts"])
            start = doc["next"]
        return attempts

    def reset(self):
        status, _, body = self.request("/graph/stats/reset", method="POST")
        if status != 200:
            raise AssertionError("reset: status %d body %r" % (status, body))


def http_request(port, path, method="GET", headers=None, body=None, timeout=10):
    conn = http.client.HTTPConnection(LOCALHOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class Response:
    def __init__(self, status, reason, header_list, body, head_bytes):
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body
        self.head_bytes = head_bytes

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, self.headers, self.body[:200])


class Incomplete(Exception):
    """The connection ended before a whole response arrived; .data holds what did arrive and .how
    says how it ended ("eof", "reset")."""

    def __init__(self, how, data):
        super().__init__("connection ended (%s) after %d bytes: %r" % (how, len(data), data[:200]))
        self.how = how
        self.data = data


class RawConn:
    """A plain TCP connection that writes exactly the bytes it is given and parses responses itself,
    so a test sees what the wire carries. Buffered, so pipelined responses are read one by one."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection((LOCALHOST, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def get(self, path, headers=(), method="GET", version="HTTP/1.1"):
        lines = ["%s %s %s" % (method, path, version), "Host: 127.0.0.1"] + ["%s: %s" % h for h in headers]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def _fill(self, deadline):
        """Reads more into buf. Raises Incomplete on EOF/reset, socket.timeout after deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out with %d bytes buffered: %r" % (len(self.buf), self.buf[:200]))
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            raise Incomplete("reset", self.buf)
        except socket.timeout:
            raise socket.timeout("no (complete) response in time; %d bytes buffered: %r"
                                 % (len(self.buf), self.buf[:200])) from None
        if not chunk:
            raise Incomplete("eof", self.buf)
        self.buf += chunk

    def read_response(self, head_only=False, timeout=None):
        """Reads one response. head_only: a response to HEAD (no body whatever Content-Length says)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.*)", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        header_list = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or name != name.strip():
                raise AssertionError("bad header line %r" % line)
            header_list.append((name, value.strip()))
        hdrs = {k.lower(): v for k, v in header_list}
        if "transfer-encoding" in hdrs:
            raise AssertionError("unexpected Transfer-Encoding in %r" % head)
        length = 0 if head_only else int(hdrs["content-length"])
        self.buf = rest
        while len(self.buf) < length:
            try:
                self._fill(deadline)
            except Incomplete as e:
                raise Incomplete(e.how, head + b"\r\n\r\n" + self.buf) from None
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(int(m.group(1)), m.group(2), header_list, body, head + b"\r\n\r\n")

    def read_until_closed(self, timeout=None):
        """Reads until the peer closes. Returns (how, data): how is "eof" or "reset"; raises
        socket.timeout if the connection stays open past the timeout."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                self._fill(deadline)
            except Incomplete as e:
                data, self.buf = self.buf, b""
                return e.how, data

    def closed_by_peer(self, timeout=None):
        """True when the peer has closed (EOF or reset) with no further bytes within the timeout."""
        how, data = self.read_until_closed(timeout)
        return data == b""


def wait_until(predicate, timeout, interval=0.01, what="condition"):
    """Polls predicate() until it returns a true value (returned) or timeout seconds pass (raises
    AssertionError naming what)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def page_ids(server, n):
    """n distinct page ids of server's graph (its /graph/sample)."""
    return server.get_json("/graph/sample?n=%d" % n)["page_ids"]


def api_count(stats, status="200"):
    return stats["audit"]["requests"]["api"].get(status, 0)


def raise_nofile(want):
    """Raises this process's soft RLIMIT_NOFILE towards want (capped at the hard limit); returns it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class _Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self.durations = []
        self._t0 = 0.0

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        self.durations.append((time.monotonic() - self._t0, test.id()))
        super().stopTest(test)

    def addSuccess(self, test):
        self.passed += 1
        super().addSuccess(test)


def main():
    """Runs the tests of the __main__ module, prints each result, the slowest tests and the summary
    line "N passed, N failed", and exits 1 on any failure."""
    sys.stdout.reconfigure(line_buffering=True)
    import __main__
    suite = unittest.defaultTestLoader.loadTestsFromModule(__main__)
    if len(sys.argv) > 1:  # run only the tests whose id contains one of the arguments
        suite = unittest.TestSuite(t for t in _flatten(suite) if any(a in t.id() for a in sys.argv[1:]))
    t0 = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_Result)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    slow = sorted(result.durations, reverse=True)[:5]
    print("slowest: " + ", ".join("%s %.2fs" % (name.split(".", 1)[-1], d) for d, name in slow))
    print("%s: %.1fs" % (os.path.basename(__main__.__file__), time.monotonic() - t0))
    print("%d passed, %d failed" % (result.passed, failed))
    sys.exit(1 if failed else 0)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t
