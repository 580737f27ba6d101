"""report.html and compare.svg as a reader gets them. `crawlbench compare` runs three models against its
embedded server; headless Chromium (Debian's `chromium`) then renders report.html to a screenshot,
checked to be a real picture with the chart's bar colours in it, and dumps the DOM, checked to hold
the results table (a row per model) and every chart, with no console message from the page. The SVGs
must parse as XML, compare.json as JSON, and the report must load nothing from anywhere.

Chromium logs plenty at startup (D-Bus, GPU, sandbox); only its CONSOLE lines come from the page, and
a page without scripts has no business producing any, so every one of them is a failure."""
import html
import html.parser
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

import harness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
WINDOW = (1200, 2000)
MODELS = ["sequential", "threads", "async"]
SVG_NS = "{http://www.w3.org/2000/svg}"
# "[pid:tid:date:INFO:CONSOLE:1] "msg", source: file:///... (1)"; older builds write CONSOLE(1).
CONSOLE_LINE = re.compile(r"^\[[^\]]*:CONSOLE[(:][^\]]*\] ?(.*)$", re.M)


def chromium(*args, timeout=120):
    """Runs headless Chromium with a throwaway profile; returns (exit code, stdout bytes, stderr text).
    It runs in its own session, so on a timeout its whole process group (its renderer, GPU and zygote
    children, all started here) is killed by the group id."""
    if not os.path.exists(CHROMIUM):
        raise AssertionError("chromium not found: apt-get install --no-install-recommends chromium")
    profile = tempfile.mkdtemp(prefix="crawlbench-chromium-")
    p = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, "--user-data-dir=" + profile, *args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError("chromium %s: no answer in %ds" % (" ".join(args), timeout))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return p.returncode, out, err.decode("utf-8", "replace")


def console_messages(stderr):
    return CONSOLE_LINE.findall(stderr)


def dump_dom(path):
    """The page's DOM after loading, and the console messages it caused."""
    rc, out, err = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", "file://" + path)
    if rc != 0:
        raise AssertionError("chromium --dump-dom exited %d:\n%s" % (rc, err[-3000:]))
    return out.decode("utf-8"), console_messages(err)


def screenshot(path, png):
    rc, _, err = chromium("--screenshot=" + png, "--window-size=%d,%d" % WINDOW, "file://" + path)
    if rc != 0 or not os.path.exists(png):
        raise AssertionError("chromium --screenshot exited %d, %s:\n%s"
                             % (rc, "no PNG" if not os.path.exists(png) else "PNG written", err[-3000:]))


def read_png(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA PNG, as Chromium writes them:
    the chunks are walked, IDAT inflated, and each scanline's filter undone."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG: %r" % data[:8]
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert ihdr, "PNG without IHDR"
    width, height, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format %r" % (ihdr,)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    want = height * (stride + 1)
    assert len(raw) == want, "IDAT holds %d bytes, expected %d" % (len(raw), want)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        off = y * (stride + 1)
        ft, line = raw[off], bytearray(raw[off + 1:off + 1 + stride])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                line[i] = (line[i] + (((line[i - bpp] if i >= bpp else 0) + prev[i]) >> 1)) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else:
            assert ft == 0, "bad filter %d on row %d" % (ft, y)
        prev = line
        rows.append(bytes(line) if bpp == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
    return width, height, rows


class DomParser(html.parser.HTMLParser):
    """From a dumped DOM: the results table's model rows (first cell's text) and the <svg> elements."""

    def __init__(self):
        super().__init__()
        self.rows, self.svgs, self.titles = [], 0, []
        self._in_results = self._in_row = self._in_cell = self._in_title = False
        self._cell_index = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "results":
            self._in_results = True
        elif tag == "tr" and self._in_results and "row" in (a.get("class") or "").split():
            self._in_row, self._cell_index = True, 0
            self.rows.append("")
        elif tag == "td" and self._in_row:
            self._cell_index += 1
            self._in_cell = self._cell_index == 1
        elif tag == "svg":
            self.svgs += 1
        elif tag == "title":
            self._in_title = True
            self.titles.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_results = False
        elif tag == "tr":
            self._in_row = self._in_cell = False
        elif tag == "td":
            self._in_cell = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_cell:
            self.rows[-1] += data
        if self._in_title:
            self.titles[-1] += data


def inline_svgs(text):
    return re.findall(r"<svg\b.*?</svg>", text, re.S)


class ReportCase(unittest.TestCase):
    """A comparison run once for the class; the tests read its files. Subclasses say how to run it."""
    compare_args = ()
    expect_rows = 0
    expect_charts = 1

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="crawlbench-report-")
        rc, out, err = harness.run_cli("compare", *cls.compare_args, "--out", cls.dir, timeout=240)
        if rc != 0:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise AssertionError("crawlbench compare exited %d\nstdout:\n%s\nstderr:\n%s"
                                 % (rc, out, err[-4000:]))
        cls.html_path = os.path.join(cls.dir, "report.html")
        cls.svg_path = os.path.join(cls.dir, "compare.svg")
        with open(cls.html_path, encoding="utf-8") as f:
            cls.html = f.read()
        with open(os.path.join(cls.dir, "compare.json"), encoding="utf-8") as f:
            cls.json = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check_json(self):
        results = self.json["results"]
        self.assertEqual(len(results), self.expect_rows)
        for r in results:
            self.assertIn(r["model"], MODELS)
            self.assertGreater(r["pages"], 0)
            self.assertGreater(r["pages_per_s"]["median"], 0, r)

    def check_svgs_are_xml(self):
        """compare.svg and the copy inline in report.html: well-formed XML, SVG, nothing external."""
        docs = [("compare.svg", open(self.svg_path, encoding="utf-8").read())]
        docs += [("report.html svg %d" % i, s) for i, s in enumerate(inline_svgs(self.html))]
        self.assertEqual(len(docs), 1 + self.expect_charts)
        for name, text in docs:
            try:
                root = ET.fromstring(text.encode("utf-8"))
            except ET.ParseError as e:
                self.fail("%s does not parse as XML: %s" % (name, e))
            self.assertEqual(root.tag, SVG_NS + "svg", name)
            texts = " ".join("".join(t.itertext()) for t in root.iter(SVG_NS + "text"))
            for m in MODELS:
                self.assertIn(m, texts, "%s: no label for %s" % (name, m))
            for el in root.iter():
                self.assertNotEqual(el.tag, SVG_NS + "script", name)
                for k, v in el.attrib.items():
                    self.assertFalse(k.endswith("href") or "url(" in v,
                                     "%s: %s=%r loads something" % (name, k, v))

    def check_self_contained(self):
        for pattern in (r"<script", r"<link", r"<img", r"<iframe", r"\bsrc\s*=", r"\bhref\s*=", r"@import",
                        r"url\("):
            self.assertIsNone(re.search(pattern, self.html, re.I), "report.html has %s" % pattern)

    def check_dom(self):
        dom, console = dump_dom(self.html_path)
        self.assertEqual(console, [], "console messages from report.html")
        p = DomParser()
        p.feed(dom)
        models = [r["model"] for r in self.json["results"]]
        self.assertEqual([r.strip() for r in p.rows], models, "results table rows")
        self.assertEqual(p.svgs, self.expect_charts, "charts in the DOM")
        self.assertIn("crawlbench compare", " ".join(p.titles))


class OneLevel(ReportCase):
    """The command the guide shows: three models, one concurrency level, a bar chart."""
    compare_args = ("--models", ",".join(MODELS), "--max-pages", "60", "--repeat", "2", "--warmup", "0",
                    "--latency", "2ms")
    expect_rows = 3

    def test_json(self):
        self.check_json()
        self.assertEqual([r["model"] for r in self.json["results"]], MODELS)
        for r in self.json["results"]:
            self.assertEqual(len(r["runs"]), 2)
            self.assertLessEqual(r["pages"], 60)

    def test_files(self):
        for name in ("compare.json", "compare.csv", "compare.md", "compare.svg", "report.html"):
            self.assertGreater(os.path.getsize(os.path.join(self.dir, name)), 0, name)

    def test_svgs_are_xml(self):
        self.check_svgs_are_xml()

    def test_bars(self):
        # a bar per model: a solid rect in the model's colour, and its median printed as text
        root = ET.parse(self.svg_path).getroot()
        solid = [r for r in root.iter(SVG_NS + "rect") if r.get("rx") and "fill-opacity" not in r.attrib]
        self.assertEqual(len(solid), len(MODELS))
        self.assertEqual(len({r.get("fill").lower() for r in solid}), len(MODELS), "a colour per model")

    def test_self_contained(self):
        self.check_self_contained()

    def test_dom_table_chart_no_console(self):
        self.check_dom()

    def test_report_escapes_and_describes(self):
        for m in MODELS:
            self.assertIn("src/crawl/models/%s.c" % m, self.html, "no paragraph for %s" % m)
        self.assertIn("ideal", self.html)
        self.assertIn(self.json["url"], self.html)

    def test_screenshot(self):
        png = os.path.join(self.dir, "report.png")
        screenshot(self.html_path, png)
        self.assertGreater(os.path.getsize(png), 20000, "a screenshot this small is a blank page")
        width, height, rows = read_png(png)
        self.assertEqual((width, height), WINDOW)
        colours = set()
        for row in rows:
            colours.update(row[i:i + 3] for i in range(0, len(row), 3))
        self.assertGreater(len(colours), 50, "the page is (nearly) one colour")
        white = sum(row.count(b"\xff\xff\xff") for row in rows[::10]) * 3 / (width * 3 * len(rows[::10]))
        self.assertLess(white, 0.97, "the page is nearly all white")
        # every bar's colour, as compare.svg gives it, was painted: the chart is on the page
        root = ET.parse(self.svg_path).getroot()
        for r in root.iter(SVG_NS + "rect"):
            if r.get("rx") and "fill-opacity" not in r.attrib:
                rgb = bytes.fromhex(r.get("fill").lstrip("#"))
                self.assertIn(rgb, colours, "bar colour %s not on the screenshot" % r.get("fill"))


class Regime(ReportCase):
    """A regime (--regime cpu, as in the tour): its lesson first, its figure (pages per CPU-second) in
    the chart and the table, all self-contained."""
    compare_args = ("--models", ",".join(MODELS), "--regime", "cpu", "--latency", "0ms", "--max-pages", "200",
                    "--repeat", "1", "--warmup", "0")
    expect_rows = 3

    def test_json(self):
        self.check_json()
        self.assertEqual(self.json["lesson"]["regime"], "cpu")
        for r in self.json["results"]:
            self.assertGreater(r["pages_per_cpu_s"]["median"], 0, r)

    def test_svgs_are_xml(self):
        self.check_svgs_are_xml()
        root = ET.parse(self.svg_path).getroot()
        self.assertIn("Pages per CPU-second", "".join(root.find(SVG_NS + "title").itertext()))

    def test_self_contained(self):
        self.check_self_contained()

    def test_dom_lesson_table_chart_no_console(self):
        self.check_dom()
        self.assertIn('<p class="lesson" id="lesson">', self.html)
        self.assertIn(self.json["lesson"]["text"], html.unescape(self.html))
        self.assertIn("<th>pg/CPU-s</th>", self.html)


class Sweep(ReportCase):
    """A sweep: each model at two levels, a line chart."""
    compare_args = ("--models", ",".join(MODELS), "--sweep", "concurrency=1,4", "--max-pages", "30",
                    "--repeat", "1", "--warmup", "0", "--latency", "2ms")
    expect_rows = 6

    def test_json(self):
        self.check_json()
        self.assertTrue(self.json["sweep"])

    def test_svgs_are_xml(self):
        self.check_svgs_are_xml()

    def test_lines(self):
        root = ET.parse(self.svg_path).getroot()
        lines = list(root.iter(SVG_NS + "polyline"))
        self.assertEqual(len(lines), len(MODELS), "a line per model")
        for pl in lines:
            self.assertEqual(len(pl.get("points").split()), 2, "a point per level")

    def test_self_contained(self):
        self.check_self_contained()

    def test_dom_table_chart_no_console(self):
        self.check_dom()


class ConsoleCheck(unittest.TestCase):
    """The console check is only worth something if it sees a page's errors: a page that throws."""

    def test_sees_uncaught_error(self):
        d = tempfile.mkdtemp(prefix="crawlbench-console-")
        try:
            path = os.path.join(d, "throws.html")
            with open(path, "w") as f:
                f.write('<!DOCTYPE html><p>x</p><script>throw new Error("boom")</script>')
            _, console = dump_dom(path)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        self.assertTrue(any("Uncaught" in m and "boom" in m for m in console), console)


if __name__ == "__main__":
    harness.main()
