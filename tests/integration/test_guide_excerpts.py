"""docs/GUIDE.md's code excerpts against the files they quote (scripts/guide_excerpts.py): the
guide as committed must match, and the checker must catch an excerpt that drifted, one that quotes
a marker no file has, and a marked excerpt the guide leaves out."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCRIPT = os.path.join(harness.REPO, "scripts", "guide_excerpts.py")
GUIDE = os.path.join(harness.REPO, "docs", "GUIDE.md")


def check(*args):
    p = subprocess.run(["/usr/bin/python3", SCRIPT, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


class Excerpts(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.copy = os.path.join(self.dir, "GUIDE.md")
        shutil.copy(GUIDE, self.copy)
        with open(self.copy) as f:
            self.text = f.read()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, text):
        with open(self.copy, "w") as f:
            f.write(text)

    def test_the_guide_matches_its_files(self):
        rc, out = check()
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"\d+ excerpts, all equal to their files")

    def test_a_drifted_excerpt_fails(self):
        marker = "<!-- excerpt examples/pitfalls/race.c race -->\n```c\n"
        self.assertIn(marker, self.text)
        self.write(self.text.replace(marker, marker + "/* an extra line */\n"))
        rc, out = check(self.copy)
        self.assertEqual(rc, 1, out)
        self.assertIn("excerpt examples/pitfalls/race.c race differs from the file", out)
        rc, out = check("--update", self.copy)  # --update puts the file's text back
        self.assertEqual(rc, 0, out)
        with open(self.copy) as f:
            self.assertEqual(f.read(), self.text)

    def test_an_unknown_marker_fails(self):
        self.write(self.text + "\n<!-- excerpt examples/pitfalls/race.c no_such -->\n```c\nx\n```\n")
        rc, out = check(self.copy)
        self.assertEqual(rc, 1, out)
        self.assertIn("quotes examples/pitfalls/race.c no_such, which no file marks", out)

    def test_an_unquoted_marker_fails(self):
        start = self.text.index("<!-- excerpt examples/pitfalls/race.c race -->")
        end = self.text.index("```\n", self.text.index("```c\n", start) + 5) + 4
        self.write(self.text[:start] + self.text[end:])
        rc, out = check(self.copy)
        self.assertEqual(rc, 1, out)
        self.assertIn("examples/pitfalls/race.c marks excerpt race, which GUIDE.md does not quote", out)

    def test_usage_error(self):
        rc, out = check("a", "b")
        self.assertEqual(rc, 2, out)


if __name__ == "__main__":
    harness.main()
