"""`serve --rate-limit N/s,BURST`: a token bucket per client address. Every answer states the policy
(RateLimit-Policy) and a 429 says exactly how long until the next token; every crawl model paces
itself by the policy, converges to N pages a second with (nearly) no 429, and never beats the
bucket; /graph/stats counts each client's 429s; another address has its own bucket."""
import http.client
import json
import unittest

import harness
from harness import Server, run_cli

RATE, BURST, PAGES = 100, 10, 120


def get(port, path, source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


class RateLimit(unittest.TestCase):
    def test_every_model_converges_to_the_rate(self):
        rc, out, err = run_cli("crawl", "--list-models")
        self.assertEqual(rc, 0, err)
        with Server("--pages", 2000, "--rate-limit", "%d/s,%d" % (RATE, BURST)) as s:
            start = s.get_json("/graph/random")["page_id"]
            for model in out.split():
                with self.subTest(model=model):
                    s.reset()
                    rc, stdout, err = run_cli("crawl", s.url, "-m", model, "-c", "8", "--start", start, "--json",
                                              "--no-progress", "--max-pages", str(PAGES), "--retries", "100",
                                              timeout=120)
                    self.assertEqual(rc, 0, err)
                    res = json.loads(stdout)
                    self.assertEqual((res["pages"], res["failed"]), (PAGES, 0))
                    # The bucket cannot be beaten: N pages need (N - BURST) / RATE seconds at least.
                    self.assertGreaterEqual(res["elapsed_s"], (PAGES - BURST) / RATE - 0.01)
                    # Honouring the waits, it converges to the rate (loosely: sanitized builds are slow).
                    self.assertGreater(res["pages_per_s"], 0.5 * RATE)
                    limited = s.stats()["audit"]["rate_limit"]["clients"]["127.0.0.1"]["limited"]
                    self.assertEqual(res["attempts"]["429"], limited)
                    # Paced by the policy from the first answer on: at most the first few requests in
                    # flight can meet an empty bucket (the burst of 10 covers -c 8).
                    self.assertLessEqual(limited, 8, "the crawl should pace itself, not bounce off 429s")

    def test_the_429_says_when_and_clients_are_apart(self):
        with Server("--pages", 100, "--rate-limit", "2/s,2") as s:
            pid = s.get_json("/graph/random")["page_id"]
            answers = [get(s.port, "/api/" + pid) for _ in range(3)]
            self.assertEqual([a[0] for a in answers], [200, 200, 429])
            self.assertEqual(answers[0][1]["RateLimit-Policy"], "2;w=1")
            status, headers, body = get(s.port, "/api/" + pid)
            self.assertEqual(status, 429)
            self.assertEqual(headers["Retry-After"], "1")  # whole seconds, rounded up
            wait = int(headers["X-Crawlbench-Retry-After-Us"])
            self.assertTrue(0 < wait <= 500000, wait)      # a token every 0.5 s
            self.assertEqual(get(s.port, "/api/" + pid, source="127.0.0.2")[0], 200, "another address")
            clients = s.stats()["audit"]["rate_limit"]["clients"]
            self.assertEqual(clients["127.0.0.1"], {"allowed": 2, "limited": 2})
            self.assertEqual(clients["127.0.0.2"], {"allowed": 1, "limited": 0})

    def test_bad_specs_are_usage_errors(self):
        for spec in ("50", "0/s", "50/s,0", "fast"):
            with self.subTest(spec=spec):
                rc, out, err = run_cli("serve", "--port", "0", "--rate-limit", spec)
                self.assertEqual(rc, 2, err)
                self.assertIn("--rate-limit", err)


if __name__ == "__main__":
    harness.main()
