"""`crawlbench compare`: against an embedded server and a given one. The table and compare.json
agree with each other and with each model's own `crawl --json`, the JSON validates against
docs/compare.schema.json, a sweep has every level, the tour (`make demo`) has every regime with a
lesson drawn from its own data, and bad input fails clearly without leaving partial files."""
import csv
import html
import json
import os
import re
import tempfile
import unittest
import xml.etree.ElementTree as ET

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


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


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
            for run in cell["runs"]:  # the crawl's own measurements, for the derived figures
                self.assertGreater(run["cpu_s"], 0)
                self.assertGreater(run["start_rss_kb"], 0)
            self.assertAlmostEqual(cell["pages_per_cpu_s"]["median"],
                                   median([r["pages"] / r["cpu_s"] for r in cell["runs"]]), delta=1e-6)
            self.assertAlmostEqual(cell["kib_per_task"], median([
                max(r["peak_rss_kb"] - r["start_rss_kb"], 0) / r["peak_in_flight"] for r in cell["runs"]]), places=6)
        self.assertIsNone(doc["lesson"], "no --regime, no lesson")
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


class Regimes(unittest.TestCase):
    def test_faults_regime_every_model_ends_alike(self):
        rc, stdout, stderr, out = compare("--regime", "faults", "--models", "sequential,threads,async,epoll",
                                          "--faults", "500:0.2,reset:0.1", "--pages", 60, "--max-pages", 1000,
                                          "--latency", "1ms", "--repeat", 1, "--warmup", 0)
        self.assertEqual(rc, 0, stderr)
        with open(os.path.join(out, "compare.json")) as f:
            doc = json.load(f)
        jsonschema.validate(doc, SCHEMA)
        self.assertIn("500", doc["server"]["faults"])
        runs = [r for c in doc["results"] for r in c["runs"]]
        outcome = {(r["pages"], r["failed"]) for r in runs}
        self.assertEqual(len(outcome), 1, "the same pages fetched and failed by every model")
        self.assertGreater(sum(r["retries"] for r in runs), 0, "the faults should have cost retries")
        lesson = doc["lesson"]
        self.assertEqual(lesson["regime"], "faults")
        self.assertTrue(lesson["holds"])
        pages, failed = outcome.pop()
        self.assertIn(f"the same {pages} pages and gave up on the same {failed}", lesson["text"])
        times = [c["elapsed_s"]["median"] for c in doc["results"]]
        self.assertAlmostEqual(lesson["figure"], max(times) / min(times), places=6)
        self.assertIn("lesson: " + lesson["text"], stdout)
        with open(os.path.join(out, "report.html")) as f:
            self.assertTrue(lesson["text"] in html.unescape(f.read()), "report.html states the lesson")

    def test_tour_has_every_regime_with_lessons_from_its_data(self):
        out = tempfile.mkdtemp()
        rc, stdout, stderr = run_cli("compare", "--tour", "--quick", "--no-progress", "--out", out, timeout=280)
        self.assertEqual(rc, 0, stderr)
        self.assertNotRegex(stderr, harness.SANITIZER_REPORT)
        with open(os.path.join(out, "report.html")) as f:
            page = f.read()
        self.assertEqual(stdout.count("\n== "), 4, "a short table per regime, the first at the top")
        for name in ("latency", "cpu", "conns", "faults"):
            self.assertEqual(set(os.listdir(os.path.join(out, name))), REPORTS, name)
            with open(os.path.join(out, name, "compare.json")) as f:
                doc = json.load(f)
            jsonschema.validate(doc, SCHEMA)
            lesson = doc["lesson"]
            self.assertEqual(lesson["regime"], name)
            self.assertTrue(lesson["holds"], lesson)
            self.assertIn(f'<section id="{name}">', page)
            self.assertTrue(lesson["text"] in html.unescape(page), f"{name}: the tour quotes its report")
            self.assertIn(lesson["text"], stdout)
            self.check_figure(name, doc)
        self.assertIn('<section id="analyze">', page)
        svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
        self.assertEqual(len(svgs), 5, "a chart per section")
        for svg in svgs:
            ET.fromstring(svg)  # well-formed, as inline SVG must be
        with open(os.path.join(out, "analyze", "analyze.json")) as f:
            sweep = json.load(f)["sweep"]["runs"]
        top = max(r["workers"] for r in sweep)
        threads = next(r for r in sweep if r["model"] == "threads" and r["workers"] == top)
        self.assertTrue("%.2fx as fast as sequential with threads" % threads["speedup"] in page, "analysis figure")
        self.assertTrue(os.path.exists(os.path.join(out, "analyze", "analyze-sweep.svg")))

    def check_figure(self, name, doc):
        """The figure each regime's lesson turns on, recomputed from its cells."""
        cells, figure = doc["results"], doc["lesson"]["figure"]
        models = [c["model"] for c in cells]
        if name == "latency":
            sp = [c["speedup"] for c in cells if c["model"] != "sequential"]
            self.assertAlmostEqual(figure, max(sp) / min(sp), places=6)
        elif name == "cpu":
            v = [c["pages_per_cpu_s"]["median"] for c in cells]
            self.assertAlmostEqual(figure, max(v) / min(v), places=6)
        elif name == "conns":
            self.assertNotIn("sequential", models, "one request in flight has no per-request share")
            v = [c["kib_per_task"] for c in cells if c["kib_per_task"] > 0]
            self.assertAlmostEqual(figure, max(v) / min(v), places=6)
            self.assertTrue(all(c["concurrency"] == cells[0]["concurrency"] > 10 for c in cells))
        else:
            self.assertEqual(len({(r["pages"], r["failed"]) for c in cells for r in c["runs"]}), 1)
            self.assertIn("sequential", models)


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
        self.assert_fails(2, "--regime: 'gil' is not one of", "--regime", "gil")
        self.assert_fails(2, "--faults", "--faults", "500:2")
        self.assert_fails(2, "--faults", "--faults", "teapot:0.1")
        self.assert_fails(2, "--fail-first", "--fail-first", "some")
        self.assert_fails(2, "embedded server", "http://127.0.0.1:1", "--faults", "500:0.1")
        self.assert_fails(2, "--tour runs its own regimes", "--tour", "--models", "threads")
        self.assert_fails(2, "--tour takes no server URL", "--tour", "http://127.0.0.1:1")
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
