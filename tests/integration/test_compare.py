"""`crawlbench compare`: against an embedded server and a given one. The table and compare.json
agree with each other and with each model's own `crawl --json`, the JSON validates against
docs/compare.schema.json, a sweep has every level, and bad input fails clearly without leaving
partial files."""
import csv
import json
import os
import re
import tempfile
import unittest

import jsonschema

import harness
from harness import Server, run_cli

with open(os.path.join(harness.REPO, "docs", "compare.schema.json")) as f:
    SCHEMA = json.load(f)
REPORTS = {"compare.json", "compare.csv", "compare.md", "compare.svg", "report.html"}


def compare(*args, timeout=240):
    out = tempfile.mkdtemp()
    rc, stdout, stderr = run_cli("compare", "--no-progress", "--out", out, *map(str, args), timeout=timeout)
    return rc, stdout, stderr, out


def table_rows(stdout):
    """model -> (concurrency, pages, median seconds) from the printed table."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+) \(", line)
        if m:
            rows[(m.group(1), int(m.group(2)))] = (int(m.group(3)), float(m.group(4)))
    return rows


class Embedded(unittest.TestCase):
    def test_table_json_csv_agree_and_validate(self):
        rc, stdout, stderr, out = compare("--models", "sequential,threads,epoll", "--max-pages", 40,
                                          "--repeat", 2, "--warmup", 0, "--latency", "2ms", "--concurrency", 8)
        self.assertEqual(rc, 0, stderr)
        self.assertNotRegex(stderr, harness.SANITIZER_REPORT)
        self.assertEqual(set(os.listdir(out)), REPORTS)
        with open(os.path.join(out, "compare.json")) as f:
            doc = json.load(f)
        jsonschema.validate(doc, SCHEMA)
        self.assertTrue(doc["embedded"])
        self.assertEqual(doc["server"]["latency"], "2ms")
        rows = table_rows(stdout)
        self.assertEqual(len(doc["results"]), 3)
        for cell in doc["results"]:
            key = (cell["model"], cell["concurrency"])
            self.assertIn(key, rows, stdout)
            self.assertEqual(rows[key][0], cell["pages"])
            self.assertAlmostEqual(rows[key][1], cell["elapsed_s"]["median"], places=3)
            self.assertEqual(len(cell["runs"]), 2)
            self.assertEqual(cell["pages"], 40)
            self.assertEqual(cell["duplicates"], 0)
            runs = sorted(r["elapsed_s"] for r in cell["runs"])
            self.assertAlmostEqual(cell["elapsed_s"]["median"], sum(runs) / 2, places=5)
            self.assertEqual(cell["concurrency"], 1 if cell["model"] == "sequential" else 8)
        seq = next(c for c in doc["results"] if c["model"] == "sequential")
        for cell in doc["results"]:
            self.assertAlmostEqual(cell["speedup"], seq["elapsed_s"]["median"] / cell["elapsed_s"]["median"], places=3)
        with open(os.path.join(out, "compare.csv")) as f:
            rows_csv = list(csv.DictReader(f))
        self.assertEqual([r["model"] for r in rows_csv], [c["model"] for c in doc["results"]])
        with open(os.path.join(out, "compare.md")) as f:
            self.assertEqual(sum(line.startswith("|") for line in f), 5, "header, rule and three model rows")

    def test_sweep_has_every_level(self):
        rc, stdout, stderr, out = compare("--models", "threads,async", "--sweep", "concurrency=1,4,16",
                                          "--max-pages", 30, "--repeat", 1, "--warmup", 0, "--latency", "1ms")
        self.assertEqual(rc, 0, stderr)
        with open(os.path.join(out, "compare.json")) as f:
            doc = json.load(f)
        jsonschema.validate(doc, SCHEMA)
        self.assertTrue(doc["sweep"])
        self.assertEqual(sorted((c["model"], c["concurrency"]) for c in doc["results"]),
                         [("async", 1), ("async", 4), ("async", 16), ("threads", 1), ("threads", 4), ("threads", 16)])


class GivenServer(unittest.TestCase):
    def test_figures_agree_with_each_models_own_crawl(self):
        with Server("--pages", "800", "--seed", "3", "--faults", "503:0.05,500:0.05", "--retry-after", "0") as s:
            start = s.get_json("/graph/random")["page_id"]
            models = ["sequential", "threads", "pool"]
            # No cap: under one, which pages a concurrent model fetches depends on completion order.
            rc, stdout, stderr, out = compare(s.url, "--models", ",".join(models), "--start", start,
                                              "--max-pages", 100000, "--repeat", 1, "--warmup", 0)
            self.assertEqual(rc, 0, stderr)
            with open(os.path.join(out, "compare.json")) as f:
                doc = json.load(f)
            self.assertFalse(doc["embedded"])
            self.assertEqual(doc["start"], start)
            for cell in doc["results"]:
                s.reset()  # compare resets before each run: the same fault pattern again
                rc, crawl_out, err = run_cli("crawl", s.url, "-m", cell["model"], "-c", str(cell["concurrency"]),
                                             "--start", start, "--json", "--no-progress")
                self.assertEqual(rc, 0, err)
                own = json.loads(crawl_out)
                run = cell["runs"][0]
                # The fault pattern is a function of (page, attempt) and the audit is reset before
                # each run, so these are the same whichever process runs the crawl.
                for key in ("pages", "failed", "retries", "requests"):
                    self.assertEqual(run[key], own[key], f"{cell['model']}: {key}")
                self.assertGreater(run["errors_served"], 0, "the fault mix should show in the audit")


class BadInput(unittest.TestCase):
    def assert_fails(self, want_rc, needle, *args):
        rc, stdout, stderr, out = compare(*args, timeout=60)
        self.assertEqual(rc, want_rc, stderr)
        self.assertIn(needle, stderr)
        self.assertEqual(os.listdir(out), [], "files left behind")

    def test_usage_errors(self):
        self.assert_fails(2, "unknown model", "--models", "sequential,teleport")
        self.assert_fails(2, "--sweep", "--sweep", "concurrency=1,,4")
        self.assert_fails(2, "--sweep", "--sweep", "threads=1,2")
        self.assert_fails(2, "levels must increase", "--sweep", "concurrency=4,2")
        self.assert_fails(2, "not a server URL", "ftp://127.0.0.1")
        self.assert_fails(2, "embedded server", "http://127.0.0.1:1", "--latency", "5ms")
        self.assert_fails(2, "--repeat", "--repeat", "0")
        rc, _, stderr = run_cli("compare", "--out", "/nonexistent/dir")
        self.assertEqual(rc, 2)
        self.assertIn("not a directory", stderr)

    def test_unreachable_and_foreign_servers(self):
        self.assert_fails(1, "cannot reach", "http://127.0.0.1:1", "--models", "sequential")
        with Server() as s:
            # /health exists, but nothing under it: not a crawlbench API at that base URL.
            self.assert_fails(1, "does not look like a crawlbench server", s.url + "/health", "--models", "sequential")


if __name__ == "__main__":
    harness.main()
