#!/usr/bin/env python3
"""Checks the layering rule of src/LAYERS: every `#include "dir/file.h"` under src/ must point to the
including file's own folder or to a folder of a lower rank. Prints each violation as file:line and
exits 1 when there is any; a folder missing from src/LAYERS is a violation too.

Usage: tests/layers.py [SRC_DIR]   (default: src next to this script's parent)"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_layers(path):
    """Folder -> rank, from the layer file (one rank a line, lowest first)."""
    ranks = {}
    rank = 0
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            for folder in line:
                ranks[folder] = rank
            rank += 1
    return ranks


def folder_of(path, ranks):
    """The deepest folder of the layer file that holds path ('crawl/models/x.c' -> 'crawl/models')."""
    parts = path.split("/")[:-1]
    while parts:
        name = "/".join(parts)
        if name in ranks:
            return name
        parts.pop()
    return None


def check(src):
    ranks = read_layers(os.path.join(src, "LAYERS"))
    problems = []
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            full = os.path.join(root, name)
            rel = os.path.relpath(full, src)
            mine = folder_of(rel, ranks)
            if mine is None:
                problems.append("%s: its folder is not in src/LAYERS" % rel)
                continue
            with open(full) as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    theirs = folder_of(m.group(1), ranks)
                    where = "src/%s:%d" % (rel, no)
                    if theirs is None:
                        problems.append('%s: "%s" is in no layer of src/LAYERS' % (where, m.group(1)))
                    elif theirs != mine and ranks[theirs] >= ranks[mine]:
                        side = "beside" if ranks[theirs] == ranks[mine] else "above"
                        problems.append('%s: %s (layer %s) includes "%s" from %s, a layer %s it'
                                        % (where, rel, mine, m.group(1), theirs, side))
    return problems


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    problems = check(src)
    for p in problems:
        print(p)
    print("layers: %s" % ("%d violations" % len(problems) if problems else "every #include points down"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
