"""Determinism of the graph: the same seed gives byte-identical answers from two servers, another
seed another graph; --pages and --out-degree shape it; --graph serves a SNAP edge list (plain or
gzip) exactly, and a malformed file stops the server with the line number."""
import gzip
import os
import shutil
import tempfile
import unittest

import harness
from harness import RawConn, Server

PAGES = 300


def all_pages(srv):
    """{id: raw body} for every page of srv's graph, fetched on one keep-alive connection."""
    ids = harness.page_ids(srv, 100000)
    bodies = {}
    with RawConn(srv.port) as c:
        for pid in ids:
            c.get("/api/" + pid)
            r = c.read_response()
            assert r.status == 200, (pid, r)
            bodies[pid] = r.body
    return ids, bodies


def graph_section(srv):
    return srv.stats()["graph"]


class SameSeed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = Server("--seed", "1234", "--pages", PAGES)
        cls.b = Server("--seed", "1234", "--pages", PAGES)
        cls.c = Server("--seed", "1235", "--pages", PAGES)

    @classmethod
    def tearDownClass(cls):
        for s in (cls.a, cls.b, cls.c):
            s.stop()

    def test_same_seed_byte_identical(self):
        ids_a, bodies_a = all_pages(self.a)
        ids_b, bodies_b = all_pages(self.b)
        self.assertEqual(len(ids_a), PAGES)
        self.assertEqual(len(set(ids_a)), PAGES)
        self.assertEqual(ids_a, ids_b)
        for pid in ids_a:
            self.assertEqual(bodies_a[pid], bodies_b[pid], pid)
        self.assertEqual(graph_section(self.a), graph_section(self.b))
        for n in (1, 17, 50):
            self.assertEqual(self.a.request("/graph/sample?n=%d" % n)[2], self.b.request("/graph/sample?n=%d" % n)[2])

    def test_random_sequence_is_deterministic(self):
        # /graph/random draws from (seed, call number): two fresh servers give the same sequence
        with Server("--seed", "77", "--pages", PAGES) as x, Server("--seed", "77", "--pages", PAGES) as y:
            seq_x = [x.get_json("/graph/random")["page_id"] for _ in range(10)]
            seq_y = [y.get_json("/graph/random")["page_id"] for _ in range(10)]
        self.assertEqual(seq_x, seq_y)

    def test_different_seed_different_graph(self):
        ids_a, bodies_a = all_pages(self.a)
        ids_c, bodies_c = all_pages(self.c)
        self.assertEqual(len(ids_c), PAGES)
        self.assertLess(len(set(ids_a) & set(ids_c)), 5, "another seed should name the pages differently")
        self.assertNotEqual(self.a.request("/graph/sample")[2], self.c.request("/graph/sample")[2])
        self.assertEqual(graph_section(self.c)["seed"], 1235)

    def test_links_are_consistent(self):
        ids, bodies = all_pages(self.a)
        idset = {"/api/" + i for i in ids}
        import json
        edges = 0
        for pid, body in bodies.items():
            doc = json.loads(body)
            self.assertEqual(doc["page_id"], pid)
            links = doc["links"]
            edges += len(links)
            self.assertEqual(len(links), len(set(links)), pid)
            self.assertNotIn("/api/" + pid, links)
            self.assertTrue(set(links) <= idset, pid)
        self.assertEqual(graph_section(self.a)["edges"], edges)


class Shape(unittest.TestCase):
    def check_shape(self, pages, degree):
        import json
        with Server("--seed", "9", "--pages", pages, "--out-degree", degree) as s:
            g = graph_section(s)
            self.assertEqual(g["pages"], pages)
            ids, bodies = all_pages(s)
            self.assertEqual(len(ids), pages)
            degrees = [len(json.loads(b)["links"]) for b in bodies.values()]
            self.assertEqual(sum(degrees), g["edges"])
            self.assertEqual(max(degrees), g["max_out_degree"])
            mean = sum(degrees) / pages
            self.assertAlmostEqual(g["mean_out_degree"], mean, places=3)
            self.assertLess(abs(mean - degree) / degree, 0.2, "mean out-degree %.2f for --out-degree %d" % (mean, degree))

    def test_pages_and_out_degree_3(self):
        self.check_shape(500, 3)

    def test_pages_and_out_degree_12(self):
        self.check_shape(400, 12)

    def test_one_page(self):
        with Server("--pages", "1") as s:
            g = graph_section(s)
            self.assertEqual((g["pages"], g["edges"]), (1, 0))
            ids = harness.page_ids(s, 10)
            self.assertEqual(len(ids), 1)
            self.assertEqual(s.get_json("/api/" + ids[0])["links"], [])
            self.assertEqual(s.get_json("/graph/random")["page_id"], ids[0])


SNAP_TEXT = (
    "# Directed graph: a test file\n"
    "# FromNodeId\tToNodeId\n"
    "0\t1\n"
    "0\t2\n"
    "0\t1\n"                     # repeated link: kept once
    "1\t1\n"                     # self-loop: dropped
    "1\t2\n"
    "\n"                         # blank line
    "2\t0\r\n"                   # CRLF
    "007\t3\n"                   # leading zeros: node 7
    "  3 \t  0  \n"              # spaces and tabs around the ids
    "5\t5\n"                     # only a self-loop: a page without links
    "9223372036854775807\t0\n"   # the largest id
    "# trailing comment\n"
)
SNAP_LINKS = {
    "0": ["1", "2"], "1": ["2"], "2": ["0"], "7": ["3"], "3": ["0"], "5": [],
    "9223372036854775807": ["0"],
}


class SnapFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="crawlbench-snap-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def write(self, name, text, gz=False):
        path = os.path.join(self.dir, name)
        data = text.encode()
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if gz else data)
        return path

    def served_graph(self, srv):
        ids = harness.page_ids(srv, 1000)
        return {pid: [l[len("/api/"):] for l in srv.get_json("/api/" + pid)["links"]] for pid in ids}

    def check_served(self, path):
        with Server("--graph", path) as s:
            got = self.served_graph(s)
            self.assertEqual(got, SNAP_LINKS)
            g = graph_section(s)
            self.assertEqual((g["pages"], g["edges"]), (7, 7))
            self.assertEqual(g["source"], path)
            self.assertEqual(g["dangling"], 1)
            self.assertEqual(s.request("/api/007")[0], 404, "ids are canonical decimal strings")
            self.assertEqual(s.request("/api/8")[0], 404)
            self.assertIn(s.get_json("/graph/random")["page_id"], SNAP_LINKS)
            return {pid: s.request("/api/" + pid)[2] for pid in SNAP_LINKS}

    def test_plain_and_gzip_serve_the_file(self):
        plain = self.check_served(self.write("g.txt", SNAP_TEXT))
        gz = self.check_served(self.write("g.txt.gz", SNAP_TEXT, gz=True))
        self.assertEqual(plain, gz)

    def test_malformed_file_exits_1_naming_the_line(self):
        good = "# c\n1\t2\n2\t3\n"
        cases = [
            ("letters", good + "3\tx\n", 4),
            ("three ids", good + "3\t4\t5\n", 4),
            ("negative", "# c\n-1\t2\n", 2),
            ("one id", good + "\n4\n", 5),
            ("overflow", good + "9223372036854775808\t1\n", 4),
            ("comma", "1,2\n", 1),
        ]
        for name, text, line in cases:
            with self.subTest(name=name):
                for gz in (False, True):
                    path = self.write("bad-%s%s" % (name.replace(" ", "_"), ".gz" if gz else ".txt"), text, gz)
                    rc, out, err = harness.run_cli("serve", "--port", "0", "--threads", "1", "--graph", path)
                    self.assertEqual(rc, 1, (name, gz, err))
                    self.assertIn("%s:%d:" % (path, line), err)
                    self.assertEqual(out, "")
                    self.assertNotRegex(err, harness.SANITIZER_REPORT)

    def test_unloadable_files_exit_1(self):
        cases = {
            "no edges": self.write("empty.txt", "# only comments\n\n"),
            "only self-loops": self.write("loops.txt", "1\t1\n2\t2\n"),
            "missing": os.path.join(self.dir, "does-not-exist.txt"),
            "a directory": self.dir,
            "truncated gzip": self.write("trunc.gz", ""),
        }
        with open(cases["truncated gzip"], "wb") as f:
            f.write(gzip.compress(SNAP_TEXT.encode())[:30])
        for name, path in cases.items():
            with self.subTest(name=name):
                rc, out, err = harness.run_cli("serve", "--port", "0", "--threads", "1", "--graph", path)
                self.assertEqual(rc, 1, (name, err))
                self.assertIn(path, err)
                self.assertEqual(out, "")
                self.assertNotRegex(err, harness.SANITIZER_REPORT)


if __name__ == "__main__":
    harness.main()
