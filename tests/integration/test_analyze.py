"""crawlbench analyze end to end: PageRank page by page against networkx on generated graphs
(exported with `graph --edges`), the same bits from every model and worker count, the guide's
"Total analysis score" against the guide's own analyze_page_content, the saved-crawl input, and bad
input (right exit code, a one-line message, nothing written). Run against the TSan build too
(tests/run.sh TSAN_INTEGRATION), which checks the threads model's synchronisation."""
import json
import os
import shutil
import tempfile
import unittest

import harness
from harness import run_cli

import networkx as nx

WORKERS = [1, 2, 3]
MODELS = ["sequential", "threads", "processes", "openmp"]


def clean(test, rc, out, err, expect_rc=0):
    """Asserts the exit code and that no sanitizer spoke."""
    test.assertEqual(rc, expect_rc, "exit %d, stderr:\n%s" % (rc, err[-3000:]))
    test.assertIsNone(harness.SANITIZER_REPORT.search(err), err[-3000:])


def read_ranks(path):
    """[(id, rank)] in file order (page order)."""
    with open(path) as f:
        return [(a, float(b)) for a, b in (line.split(" ") for line in f)]


def guide_analyze_page_content(page_data):
    """The guide's function, verbatim in substance (python-concurrency-guide.md)."""
    links = page_data["links"]
    link_analysis = {}
    for link in links:
        link_id = link.split('/')[-1]
        score = sum(ord(c) for c in link_id) * len(link_id)
        link_analysis[link_id] = score
    return {"page_id": page_data["page_id"], "link_count": len(links),
            "total_score": sum(link_analysis.values()), "analysis": link_analysis}


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="crawlbench-analyze-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def analyze(self, *args, expect_rc=0, timeout=120):
        rc, out, err = run_cli("analyze", *map(str, args), timeout=timeout)
        clean(self, rc, out, err, expect_rc)
        return out, err

    def edges(self, pages, seed, degree=8):
        path = self.path("g%d-%d.el" % (pages, seed))
        rc, out, err = run_cli("graph", "--pages", str(pages), "--seed", str(seed), "--out-degree",
                               str(degree), "--edges", path)
        clean(self, rc, out, err)
        return path


class AgainstNetworkx(Base):
    def check(self, pages, seed, degree=8):
        el = self.edges(pages, seed, degree)
        ranks = self.path("ranks.txt")
        self.analyze("--pages", pages, "--seed", seed, "--out-degree", degree, "--tolerance", "1e-14",
                     "--max-iter", 1000, "--ranks", ranks, "--top", 0)
        ours = read_ranks(ranks)
        g = nx.read_edgelist(el, create_using=nx.DiGraph, nodetype=int, comments="#")
        self.assertEqual(g.number_of_nodes(), pages)
        want = nx.pagerank(g, alpha=0.85, tol=1e-15, max_iter=10000)
        self.assertEqual(len(ours), pages)
        worst = max(abs(ours[i][1] - want[i]) for i in range(pages))
        self.assertLess(worst, 1e-9, "largest difference %.3g" % worst)
        # The file's ranks add up to one, so they are not all alike by accident.
        self.assertAlmostEqual(sum(r for _, r in ours), 1.0, places=9)

    def test_tiny_graph(self):
        self.check(10, 3, 2)

    def test_1000_pages(self):
        self.check(1000, 42)

    def test_10000_pages(self):
        self.check(10000, 7)

    def test_snap_input_gives_the_same_ranks_as_generation(self):
        el = self.edges(2000, 11)
        a, b = self.path("a.txt"), self.path("b.txt")
        self.analyze("--pages", 2000, "--seed", 11, "--ranks", a)
        self.analyze("--graph", el, "--ranks", b)
        ra, rb = read_ranks(a), dict(read_ranks(b))
        # The SNAP file names page i "i" (its pages are numbered in order of appearance, so the
        # in-list orders, and the last bits, may differ).
        self.assertEqual(len(rb), 2000)
        worst = max(abs(ra[i][1] - rb[str(i)]) for i in range(2000))
        self.assertLess(worst, 1e-15, "largest difference %.3g" % worst)


class SameBits(Base):
    def test_every_model_and_worker_count(self):
        ref_ranks = ref = None
        for model in MODELS:
            for w in ([1] if model == "sequential" else WORKERS):
                ranks = self.path("r-%s-%d.txt" % (model, w))
                out, _ = self.analyze("--pages", 20000, "--seed", 5, "--model", model, "--workers", w,
                                      "--json", "--ranks", ranks)
                j = json.loads(out)
                self.assertEqual((j["model"], j["workers"], j["pages"]), (model, w, 20000))
                with open(ranks, "rb") as f:
                    data = f.read()
                key = (j["score_total"], j["pagerank"]["iterations"], j["stats"]["scc_largest"])
                if ref is None:
                    ref, ref_ranks = key, data
                    continue
                self.assertEqual(key, ref, "%s x%d" % (model, w))
                self.assertEqual(data, ref_ranks, "%s x%d: ranks differ" % (model, w))

    def test_table_output(self):
        out, _ = self.analyze("--pages", 500, "--model", "threads", "--workers", 2)
        self.assertIn("Total analysis score:", out)
        self.assertIn("strongly connected components", out)


class Sweep(Base):
    def test_sweep_writes_the_chart_and_the_fit(self):
        import xml.dom.minidom
        svg = self.path("s.svg")
        out, _ = self.analyze("--pages", 3000, "--sweep", "workers=1,2", "--svg", svg, "--json", "--top", 0)
        sw = json.loads(out)["sweep"]
        self.assertEqual(sorted((e["model"], e["workers"]) for e in sw["runs"]),
                         sorted((m, w) for m in ("threads", "processes", "openmp") for w in (1, 2)))
        for e in sw["runs"]:
            self.assertGreater(e["seconds"], 0)
            self.assertAlmostEqual(e["speedup"], sw["sequential_seconds"] / e["seconds"])
        self.assertEqual(sorted(sw["amdahl_serial_fraction"]), ["openmp", "processes", "threads"])
        doc = xml.dom.minidom.parse(svg)
        self.assertEqual(len(doc.getElementsByTagName("circle")), 6)
        out, _ = self.analyze("--pages", 3000, "--sweep", "workers=1,2", "--svg", svg)
        self.assertIn("Amdahl's law fitted, serial fraction: threads", out)

    def test_bad_sweep_is_a_usage_error(self):
        svg = self.path("s.svg")
        for bad in ("threads=1,2", "workers=", "workers=0,2", "workers=1,x"):
            rc, out, err = run_cli("analyze", "--pages", "100", "--sweep", bad, "--svg", svg)
            clean(self, rc, out, err, 2)
        self.assertFalse(os.path.exists(svg))


class GuideScore(Base):
    def test_total_matches_the_guides_program(self):
        """A saved crawl of a generated graph, scored by the guide's Python function and by us."""
        el = self.edges(300, 9, 6)
        ranks = self.path("ids.txt")
        self.analyze("--pages", 300, "--seed", 9, "--out-degree", 6, "--ranks", ranks)
        ids = [i for i, _ in read_ranks(ranks)]
        links = {i: [] for i in range(300)}
        with open(el) as f:
            for line in f:
                if not line.startswith("#"):
                    a, b = map(int, line.split())
                    links[a].append(b)
        crawl = self.path("crawl.tsv")
        with open(crawl, "w") as f:
            for p in range(300):
                f.write("%s\t%s\n" % (ids[p], " ".join(ids[t] for t in links[p])))
        want = sum(guide_analyze_page_content({"page_id": ids[p], "links": ["/api/" + ids[t] for t in links[p]]})
                   ["total_score"] for p in range(300))
        for args in (["--pages", 300, "--seed", 9, "--out-degree", 6], ["--crawl", crawl]):
            out, _ = self.analyze(*args, "--json", "--work", 3)
            self.assertEqual(json.loads(out)["score_total"], want, args)
        out, _ = self.analyze("--crawl", crawl)
        self.assertIn("Total analysis score: %d" % want, out)


class SavedCrawl(Base):
    def test_crawl_save_graph_then_analyze(self):
        """The guide's flow: crawl a server, save what was fetched, analyse it. Every reachable page
        is in the file once, and the score is the guide's over the file's own lines."""
        start = "0"
        with harness.Server("--pages", 400, "--seed", 3) as srv:
            start = harness.page_ids(srv, 1)[0]
            saved = self.path("crawl.tsv")
            rc, out, err = run_cli("crawl", srv.url, "--model", "threads", "-c", "4", "--start", start,
                                   "--no-progress", "--save-graph", saved, timeout=120)
            clean(self, rc, out, err)
        rc, out, err = run_cli("graph", "--pages", "400", "--seed", "3", "--reachable-from", start)
        clean(self, rc, out, err)
        reachable = set(out.split())
        lines = [l.rstrip("\n").split("\t") for l in open(saved) if not l.startswith("#")]
        self.assertEqual(sorted(p for p, _ in lines), sorted(reachable))
        want = sum(guide_analyze_page_content({"page_id": p, "links": ["/api/" + t for t in links.split()]})
                   ["total_score"] for p, links in lines)
        out, _ = self.analyze("--crawl", saved, "--json", "--ranks", self.path("a.txt"))
        j = json.loads(out)
        self.assertEqual(j["pages"], len(reachable))
        self.assertEqual(j["score_total"], want)
        # --from does the same in one command, whatever the crawl engine.
        with harness.Server("--pages", 400, "--seed", 3) as srv:
            out, _ = self.analyze("--from", srv.url, "--crawl-start", start, "--crawl-model", "threads",
                                  "--model", "processes", "--workers", 2, "--json", "--ranks", self.path("b.txt"))
        k = json.loads(out)
        self.assertEqual((k["pages"], k["edges"], k["score_total"]), (j["pages"], j["edges"], j["score_total"]))
        ra, rb = dict(read_ranks(self.path("a.txt"))), dict(read_ranks(self.path("b.txt")))
        self.assertEqual(ra.keys(), rb.keys())
        worst = max(abs(ra[p] - rb[p]) for p in ra)
        self.assertLess(worst, 1e-15, "the visit order may differ, so the page numbering and last bits may")

    def test_from_an_unreachable_server_fails(self):
        rc, out, err = run_cli("analyze", "--from", "http://127.0.0.1:1")
        clean(self, rc, out, err, 1)
        self.assertIn("cannot reach", err)
        rc, out, err = run_cli("analyze", "--from", "ftp://x")
        clean(self, rc, out, err, 2)


class BadInput(Base):
    def fails(self, expect_rc, *args, message):
        ranks = self.path("ranks.txt")
        with open(ranks, "w") as f:
            f.write("precious\n")
        rc, out, err = run_cli("analyze", *map(str, args), "--ranks", ranks)
        clean(self, rc, out, err, expect_rc)
        self.assertIn(message, err)
        self.assertEqual(out, "", "nothing on stdout when failing")
        with open(ranks) as f:
            self.assertEqual(f.read(), "precious\n", "the ranks file was touched")
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".")], [], "a temporary file was left")

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def test_missing_file(self):
        self.fails(1, "--graph", self.path("nope.txt"), message="No such file")
        self.fails(1, "--crawl", self.path("nope.tsv"), message="No such file")

    def test_empty_files(self):
        self.fails(1, "--crawl", self.write("e.tsv", ""), message="empty file")
        self.fails(1, "--graph", self.write("e.txt", ""), message="no edges")

    def test_malformed_lines_name_the_line(self):
        self.fails(1, "--graph", self.write("m.txt", "0\t1\n1\tx\n"), message="m.txt:2:")
        self.fails(1, "--crawl", self.write("m.tsv", "a\tb\nb a\n"), message="m.tsv:2:")

    def test_no_edges(self):
        self.fails(1, "--crawl", self.write("n.tsv", "a\nb\n"), message="no links")
        self.fails(1, "--pages", 1, message="no links")

    def test_worker_counts(self):
        self.fails(2, "--model", "threads", "--workers", 0, message="--workers")
        self.fails(2, "--model", "threads", "--workers", 8 * os.cpu_count() + 1, message="--workers")
        self.fails(2, "--workers", 2, message="sequential has one")

    def test_unknown_model_and_options(self):
        self.fails(2, "--model", "fibers", message="unknown model 'fibers'")
        self.fails(2, "--tolerance", "-1", message="--tolerance")
        self.fails(2, "--graph", "a", "--crawl", "b", message="choose one input")
        self.fails(2, "--frobnicate", message="unknown option")

    def test_graph_edges_failure_leaves_the_file(self):
        out = self.write("keep.el", "precious\n")
        rc, _, err = run_cli("graph", "--graph", self.path("nope.txt"), "--edges", out)
        clean(self, rc, "", err, 1)
        with open(out) as f:
            self.assertEqual(f.read(), "precious\n")
        rc, _, err = run_cli("graph", "--pages", "10", "--edges", os.path.join(self.dir, "no", "dir.el"))
        clean(self, rc, "", err, 1)
        self.assertIn("temporary file", err)


if __name__ == "__main__":
    harness.main()
