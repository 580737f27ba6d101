#!/usr/bin/env python3
"""Keeps docs/GUIDE.md's code excerpts equal to the files they quote.

A source file marks an excerpt with two comment lines, `/* guide:begin NAME */` and
`/* guide:end NAME */`; the guide quotes it as

    <!-- excerpt PATH NAME -->
    ```c
    (the lines between the markers, with their common indentation removed)
    ```

`guide_excerpts.py` (check) exits 1, naming each difference, when an excerpt in the guide differs
from its file, quotes a marker that does not exist, or when a marked excerpt is quoted nowhere;
`guide_excerpts.py --update` rewrites the guide's blocks from the files. Usage errors exit 2.
"""
import os
import re
import sys
import tempfile
import textwrap

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MARK = re.compile(r"^\s*/\* guide:(begin|end) ([A-Za-z0-9_]+) \*/\s*$")
QUOTE = re.compile(r"<!-- excerpt (\S+) (\S+) -->\n```(\w*)\n(.*?)```\n", re.S)
SOURCE_DIRS = ("examples",)


def regions(path):
    """{name: text} of the marked regions of one file; raises ValueError on unbalanced markers."""
    out, open_name, lines = {}, None, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = MARK.match(line)
            if not m:
                if open_name:
                    lines.append(line)
                continue
            kind, name = m.groups()
            if kind == "begin":
                if open_name or name in out:
                    raise ValueError("%s:%d: guide:begin %s inside %s or repeated" % (path, n, name, open_name))
                open_name, lines = name, []
            else:
                if name != open_name:
                    raise ValueError("%s:%d: guide:end %s does not close %s" % (path, n, name, open_name))
                out[name] = textwrap.dedent("".join(lines))
                open_name = None
    if open_name:
        raise ValueError("%s: guide:begin %s never ends" % (path, open_name))
    return out


def all_regions(root):
    found = {}
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for fn in sorted(files):
                if fn.endswith((".c", ".h")):
                    path = os.path.join(dirpath, fn)
                    for name, text in regions(path).items():
                        found[(os.path.relpath(path, root), name)] = text
    return found


def check(guide_text, found):
    """Returns (problems, updated guide text)."""
    problems, quoted = [], set()

    def replace(m):
        key = (m.group(1), m.group(2))
        quoted.add(key)
        if key not in found:
            problems.append("GUIDE.md quotes %s %s, which no file marks" % key)
            return m.group(0)
        if m.group(4) != found[key]:
            problems.append("GUIDE.md's excerpt %s %s differs from the file" % key)
        return "<!-- excerpt %s %s -->\n```%s\n%s```\n" % (key[0], key[1], m.group(3) or "c", found[key])

    updated = QUOTE.sub(replace, guide_text)
    for key in sorted(set(found) - quoted):
        problems.append("%s marks excerpt %s, which GUIDE.md does not quote" % key)
    return problems, updated


def main(argv):
    update = "--update" in argv
    rest = [a for a in argv if a != "--update"]
    if len(rest) > 1:
        print("usage: guide_excerpts.py [--update] [GUIDE.md]", file=sys.stderr)
        return 2
    guide = rest[0] if rest else os.path.join(REPO, "docs", "GUIDE.md")
    try:
        found = all_regions(REPO)
        with open(guide, encoding="utf-8") as f:
            text = f.read()
    except (OSError, ValueError) as e:
        print("guide_excerpts: %s" % e, file=sys.stderr)
        return 1
    problems, updated = check(text, found)
    if update:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(guide)), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(updated)
        os.replace(tmp, guide)  # a failed run leaves the guide as it was
        problems = [p for p in problems if "differs" not in p]
    for p in problems:
        print("guide_excerpts: %s" % p, file=sys.stderr)
    if not problems:
        print("guide_excerpts: %d excerpts, all equal to their files" % len(found))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
