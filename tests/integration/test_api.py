"""The server's HTTP API: every route's shape and content type, 404/405, /graph/sample, /metrics,
the /graph/stats audit and its reset, HEAD, keep-alive rules, and the command line's usage errors."""
import json
import re
import unittest

import harness
from harness import RawConn, Server

JSON = "application/json"


class Routes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--seed", "7", "--pages", "1000")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path, **kw):
        return self.srv.request(path, **kw)

    def assert_json(self, status, headers, body, expect_status):
        self.assertEqual(status, expect_status, body)
        self.assertEqual(headers.get("content-type"), JSON)
        self.assertEqual(int(headers["content-length"]), len(body))
        return json.loads(body)

    def assert_error(self, status, headers, body, expect_status):
        doc = self.assert_json(status, headers, body, expect_status)
        self.assertIsInstance(doc, dict)
        self.assertIsInstance(doc.get("error"), str, doc)
        self.assertTrue(doc["error"])
        return doc

    def test_random_returns_a_served_page(self):
        ids = set()
        for _ in range(20):
            doc = self.assert_json(*self.get("/graph/random"), 200)
            self.assertEqual(list(doc), ["page_id"])
            self.assertIsInstance(doc["page_id"], str)
            ids.add(doc["page_id"])
        self.assertGreater(len(ids), 10, "20 random pages out of 1000 should mostly differ")
        for pid in ids:
            status, _, _ = self.get("/api/" + pid)
            self.assertEqual(status, 200, pid)

    def test_api_page_shape(self):
        pid = harness.page_ids(self.srv, 1)[0]
        status, headers, body = self.get("/api/" + pid)
        doc = self.assert_json(status, headers, body, 200)
        self.assertEqual(sorted(doc), ["links", "page_id"])
        self.assertEqual(doc["page_id"], pid)
        self.assertIsInstance(doc["links"], list)
        self.assertGreater(len(doc["links"]), 0)
        self.assertEqual(len(set(doc["links"])), len(doc["links"]), "duplicate links")
        self.assertNotIn("/api/" + pid, doc["links"], "self-link")
        for link in doc["links"]:
            self.assertRegex(link, r"^/api/[A-Za-z0-9]+$")
        self.assertRegex(headers.get("server-timing", ""), r"^delay;dur=0\.000$")
        # every link leads to a page
        for link in doc["links"]:
            self.assertEqual(self.get(link)[0], 200, link)

    def test_api_percent_encoded_id(self):
        pid = harness.page_ids(self.srv, 1)[0]
        enc = "".join("%%%02X" % ord(c) for c in pid)
        plain = self.get("/api/" + pid)
        coded = self.get("/api/" + enc)
        self.assertEqual(coded[0], 200)
        self.assertEqual(coded[2], plain[2])

    def test_api_unknown_page_is_404_json(self):
        for path in ("/api/nope", "/api/" + "x" * 40, "/api/%00", "/api/%zz", "/api/a%2"):
            with self.subTest(path=path):
                self.assert_error(*self.get(path), 404)

    def test_unknown_path_404(self):
        for path in ("/", "/nope", "/api", "/api/", "/graph", "/graph/stats/", "/healthz", "/metrics/x"):
            with self.subTest(path=path):
                self.assert_error(*self.get(path), 404)

    def test_method_not_allowed_with_allow(self):
        pid = harness.page_ids(self.srv, 1)[0]
        cases = [("POST", "/api/" + pid, "GET, HEAD"), ("PUT", "/graph/random", "GET, HEAD"),
                 ("DELETE", "/graph/sample", "GET, HEAD"), ("POST", "/graph/stats", "GET, HEAD"),
                 ("PATCH", "/metrics", "GET, HEAD"), ("OPTIONS", "/health", "GET, HEAD"),
                 ("GET", "/graph/stats/reset", "POST"), ("HEAD", "/graph/stats/reset", "POST")]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                status, headers, body = self.get(path, method=method)
                self.assertEqual(status, 405)
                self.assertEqual(headers.get("allow"), allow)
                if method != "HEAD":
                    self.assert_error(status, headers, body, 405)
        self.assert_error(*self.get("/nope", method="POST"), 404)

    def test_health(self):
        doc = self.assert_json(*self.get("/health"), 200)
        self.assertEqual(doc, {"status": "ok"})

    def test_sample_default_and_determinism(self):
        first = self.assert_json(*self.get("/graph/sample"), 200)
        self.assertEqual(list(first), ["page_ids"])
        ids = first["page_ids"]
        self.assertEqual(len(ids), 50)
        self.assertEqual(len(set(ids)), 50, "sample ids must be distinct")
        for _ in range(3):
            self.assertEqual(self.srv.get_json("/graph/sample")["page_ids"], ids)
        self.assertEqual(self.srv.get_json("/graph/sample?n=50")["page_ids"], ids)
        ten = self.srv.get_json("/graph/sample?n=10")["page_ids"]
        self.assertEqual(ten, ids[:10], "a smaller sample is a prefix of a larger one")
        for pid in ids[:10]:
            self.assertEqual(self.get("/api/" + pid)[0], 200)

    def test_sample_n_handling(self):
        self.assertEqual(self.srv.get_json("/graph/sample?n=0")["page_ids"], [])
        self.assertEqual(len(self.srv.get_json("/graph/sample?n=1")["page_ids"]), 1)
        everything = self.srv.get_json("/graph/sample?n=100000")["page_ids"]
        self.assertEqual(len(everything), 1000, "n above the page count gives every page")
        self.assertEqual(len(set(everything)), 1000)
        self.assertEqual(len(self.srv.get_json("/graph/sample?n=1000")["page_ids"]), 1000)
        self.assertEqual(len(self.srv.get_json("/graph/sample?n=%35")["page_ids"]), 5)  # %35 = "5"
        for bad in ("100001", "abc", "-1", "", "1e3", "5x", "99999999999999999999", "%zz", "1.5", "+5"):
            with self.subTest(n=bad):
                self.assert_error(*self.get("/graph/sample?n=" + bad), 400)

    def test_stats_shape(self):
        doc = self.assert_json(*self.get("/graph/stats"), 200)
        g = doc["graph"]
        self.assertEqual(g["seed"], 7)
        self.assertEqual(g["pages"], 1000)
        self.assertEqual(g["source"], "generated")
        self.assertIsInstance(g["edges"], int)
        self.assertAlmostEqual(g["mean_out_degree"], g["edges"] / g["pages"], places=3)
        for key in ("max_out_degree", "max_in_degree", "zero_in_degree", "dangling"):
            self.assertIsInstance(g[key], int, key)
        s = doc["server"]
        self.assertEqual(s["threads"], 2)
        self.assertGreaterEqual(s["connections_open"], 1)
        self.assertEqual((s["latency"], s["faults"], s["fail_first"]), ("none", "none", 0))
        a = doc["audit"]
        self.assertEqual(set(a["requests"]), {"api", "random", "sample", "stats", "reset", "metrics",
                                              "health", "other"})
        self.assertEqual(set(a["faults"]), {"500", "503", "429", "reset", "close", "truncate", "hang", "slow"})
        for key in ("pages_served", "duplicate_fetches", "pages_served_more_than_once"):
            self.assertIsInstance(a[key], int, key)

    def test_metrics_is_prometheus_text(self):
        status, headers, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers["content-type"])
        text = body.decode()
        self.assertTrue(text.endswith("\n"))
        sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$')
        label = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"$')
        typed, values = {}, {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                self.assertIn(kind, ("counter", "gauge", "histogram", "summary", "untyped"), line)
                typed[name] = kind
                continue
            if line.startswith("# HELP ") or not line:
                continue
            m = sample.match(line)
            self.assertIsNotNone(m, "not a Prometheus sample line: %r" % line)
            self.assertIn(m.group(1), typed, "sample before its # TYPE: %r" % line)
            if m.group(3):
                for lab in re.findall(r'[^,]+="[^"]*"', m.group(3)):
                    self.assertRegex(lab, label)
            values[(m.group(1), m.group(3) or "")] = float(m.group(4))
        self.assertEqual(values[("crawlbench_graph_pages", "")], 1000)
        stats = self.srv.stats()
        self.assertEqual(values[("crawlbench_graph_edges", "")], stats["graph"]["edges"])
        self.assertIn(("crawlbench_faults_total", 'kind="500"'), values)
        self.assertGreaterEqual(values[("crawlbench_connections_open", "")], 1)

    def test_head_has_no_body_and_right_length(self):
        pid = harness.page_ids(self.srv, 1)[0]
        for path in ("/api/" + pid, "/graph/sample?n=5", "/health", "/api/unknown-page"):
            with self.subTest(path=path), RawConn(self.srv.port) as c:
                # HEAD then GET on one connection: a body after the HEAD head would corrupt the GET.
                c.get(path, method="HEAD")
                c.get(path)
                head = c.read_response(head_only=True)
                full = c.read_response()
                self.assertEqual(head.status, full.status)
                self.assertEqual(int(head.headers["content-length"]), len(full.body))
                self.assertGreater(len(full.body), 0)
                self.assertEqual(head.headers["content-type"], full.headers["content-type"])
                self.assertEqual(c.buf, b"")

    def test_keep_alive_rules(self):
        with RawConn(self.srv.port) as c:  # HTTP/1.1: persistent by default
            for _ in range(3):
                c.get("/health")
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertNotIn("connection", r.headers)
        with RawConn(self.srv.port) as c:  # HTTP/1.1 Connection: close is honoured
            c.get("/health", headers=[("Connection", "close")])
            r = c.read_response()
            self.assertEqual(r.headers.get("connection"), "close")
            self.assertTrue(c.closed_by_peer(5))
        with RawConn(self.srv.port) as c:  # HTTP/1.0: closes unless asked
            c.get("/health", version="HTTP/1.0")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("connection"), "close")
            self.assertTrue(c.closed_by_peer(5))
        with RawConn(self.srv.port) as c:  # HTTP/1.0 with Connection: keep-alive stays open
            for _ in range(2):
                c.get("/health", version="HTTP/1.0", headers=[("Connection", "keep-alive")])
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.headers.get("connection", "").lower(), "keep-alive")

    def test_request_body_is_read_and_ignored(self):
        with RawConn(self.srv.port) as c:
            body = b"x" * 1000
            c.send(b"POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + body +
                   b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(c.read_response().status, 405)
            self.assertEqual(c.read_response().status, 200)


class Audit(unittest.TestCase):
    """The audit in /graph/stats counts what this test sends, and the reset zeroes it."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--seed", "11", "--pages", "500")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_counts_match_what_was_sent(self):
        ids = harness.page_ids(self.srv, 20)
        self.srv.reset()
        with RawConn(self.srv.port) as c:
            for _ in range(2):
                for pid in ids:
                    c.get("/api/" + pid)
                    self.assertEqual(c.read_response().status, 200)
            for _ in range(3):
                c.get("/api/does-not-exist")
                self.assertEqual(c.read_response().status, 404)
            c.get("/health")
            c.read_response()
            c.get("/api/" + ids[0], method="POST")
            self.assertEqual(c.read_response().status, 405)
            c.get("/nowhere")
            self.assertEqual(c.read_response().status, 404)
        a = self.srv.stats()["audit"]
        self.assertEqual(a["pages_served"], 20)
        self.assertEqual(a["duplicate_fetches"], 20)
        self.assertEqual(a["pages_served_more_than_once"], 20)
        self.assertEqual(a["requests"]["api"].get("200"), 40)
        self.assertEqual(a["requests"]["api"].get("404"), 3)
        self.assertEqual(a["requests"]["health"], {"200": 1})
        # POST /api/<id> (405) is counted under "api" or "other"; /nowhere (404) under "other".
        api_other = {}
        for route in ("api", "other"):
            for code, n in a["requests"][route].items():
                api_other[code] = api_other.get(code, 0) + n
        self.assertEqual(api_other, {"200": 40, "404": 4, "405": 1})
        self.assertEqual(a["requests"]["random"], {})
        self.assertEqual(a["requests"]["sample"], {})
        self.assertEqual(sum(a["faults"].values()), 0)

    def test_reset_zeroes_audit_and_attempts(self):
        ids = harness.page_ids(self.srv, 5)
        self.srv.reset()
        for pid in ids:
            self.assertEqual(self.srv.request("/api/%s?fail_first=1" % pid)[0], 503)
            self.assertEqual(self.srv.request("/api/%s?fail_first=1" % pid)[0], 200)
        status, headers, body = self.srv.request("/graph/stats/reset", method="POST")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(body), {"reset": True})
        a = self.srv.stats()["audit"]
        self.assertEqual((a["pages_served"], a["duplicate_fetches"], a["pages_served_more_than_once"]), (0, 0, 0))
        for route, counts in a["requests"].items():
            if route != "reset":  # the reset's own answer may or may not be counted
                self.assertEqual(counts, {}, route)
        self.assertEqual(sum(a["faults"].values()), 0)
        # attempts restart at 0: fail_first=1 fails once more on every page
        for pid in ids:
            self.assertEqual(self.srv.request("/api/%s?fail_first=1" % pid)[0], 503, pid)
        self.assertEqual(self.srv.stats()["audit"]["faults"]["503"], 5)

    def test_metrics_agree_with_stats(self):
        ids = harness.page_ids(self.srv, 7)
        self.srv.reset()
        for pid in ids + ids[:3]:
            self.srv.request("/api/" + pid)
        text = self.srv.request("/metrics")[2].decode()
        self.assertIn('crawlbench_responses_total{route="api",status="200"} 10\n', text)
        self.assertIn("crawlbench_pages_served 7\n", text)
        self.assertIn("crawlbench_duplicate_fetches_total 3\n", text)


class CommandLine(unittest.TestCase):
    def test_help_exits_0(self):
        for args in (("serve", "--help"), ("serve", "-h"), ("--help",)):
            rc, out, err = harness.run_cli(*args)
            self.assertEqual(rc, 0, (args, err))
            self.assertIn("usage: crawlbench", out)
        rc, out, _ = harness.run_cli("serve", "--help")
        for opt in ("--seed", "--pages", "--graph", "--latency", "--faults", "--fail-first", "--max-conns"):
            self.assertIn(opt, out)

    def test_help_shows_percent_rates_as_typed(self):
        """The help's --faults example must be a spec one can paste: "503:1%", not printf's "503:1%%"."""
        rc, out, _ = harness.run_cli("serve", "--help")
        self.assertEqual(rc, 0)
        bad = [line.strip() for line in out.splitlines() if "%%" in line]
        self.assertEqual(bad, [], "help lines with a doubled %")
        self.assertIn("503:1%", out)

    def test_percent_rates_are_accepted(self):
        with Server("--faults", "503:1%,500:0.5%") as s:
            self.assertEqual(s.stats()["server"]["faults"], "500:0.005,503:0.01")

    def test_port_in_use_exits_1(self):
        """A second server on a port that is already served must fail to start, not join the first
        one's SO_REUSEPORT group and take half of its connections."""
        import subprocess
        with Server("--seed", "1") as first:
            p = subprocess.Popen([harness.binary(), "serve", "--port", str(first.port), "--threads", "1",
                                  "--seed", "2"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=harness.server_env())
            try:
                rc = p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()  # by its own PID
                p.wait(5)
                self.fail("a second server started on port %d while the first was serving it (%s)"
                          % (first.port, p.stdout.read().decode().strip()))
            finally:
                if p.stdout:
                    out, err = p.stdout.read().decode(), p.stderr.read().decode()
                    p.stdout.close()
                    p.stderr.close()
            self.assertEqual(rc, 1, err)
            self.assertIn(str(first.port), err)
            self.assertEqual(out, "")
            self.assertEqual(first.get_json("/graph/stats")["graph"]["seed"], 1)

    def test_usage_errors_exit_2_with_a_message(self):
        cases = [
            (["--latency", "fast"], "--latency"),
            (["--latency", "uniform:20ms-10ms"], "--latency"),
            (["--latency", "lognormal:0ms,10ms"], "--latency"),
            (["--faults", "500:2"], "--faults"),
            (["--faults", "foo:0.1"], "--faults"),
            (["--faults", "500:0.6,503:0.6"], "--faults"),
            (["--bogus"], "bogus"),
            (["--port", "99999"], "--port"),
            (["--port", "-1"], "--port"),
            (["--pages", "0"], "--pages"),
            (["--seed", "abc"], "--seed"),
            (["--fail-with", "teapot"], "--fail-with"),
            (["--idle-timeout", "5 minutes"], "--idle-timeout"),
            (["--threads", "0"], "--threads"),
            (["stray"], "stray"),
            (["--seed"], "--seed"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                rc, out, err = harness.run_cli("serve", *args)
                self.assertEqual(rc, 2, (args, out, err))
                self.assertIn(needle, err)
                self.assertNotIn("listening", out)
                self.assertNotRegex(err, harness.SANITIZER_REPORT)
        rc, _, err = harness.run_cli("no-such-command")
        self.assertEqual(rc, 2)
        self.assertIn("no-such-command", err)


if __name__ == "__main__":
    harness.main()
