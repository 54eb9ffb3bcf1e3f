#!/usr/bin/env python3
"""Runs the examples of a Markdown page, so that the docs cannot rot.

    run-doc.py PAGE WORKDIR SRC_ROOT OBJ_ROOT [NAME=VALUE ...]

What the page marks with HTML comments (invisible when rendered) is run:

- `<!-- file: NAME -->` before a fenced block: the block is written to
  WORKDIR/NAME (an MLIR input, a C program, a CMakeLists.txt);
- `<!-- run -->` before a ```sh block: its commands run in WORKDIR, every
  block of the page in one bash script (variables carry over) under
  `set -euo pipefail`;
- `<!-- output -->` before a fenced block that follows a run block: what
  that run block prints (stdout and stderr) must contain these lines, in this
  order; a line `...` stands for any number of lines, and `...` inside a line
  for any text. Blank lines are ignored.

WORKDIR is made afresh, with `build` linking to OBJ_ROOT and `examples` to
SRC_ROOT/examples, so that commands read as a newcomer types them in a
checkout: `build/bin/dilattn-opt examples/...`. NAME=VALUE pairs are set in
the environment (e.g. CC for the C compiler). Prints `N blocks run, M
outputs checked` or, on a failure, what was expected and what came out.
"""

import os
import re
import shutil
import subprocess
import sys


def parse(text):
    """The page's marked blocks, in order: (kind, name, body)."""
    blocks = []
    pending = None  # ("file", name) | ("run", None) | ("output", None)
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = re.match(r"\s*<!--\s*(file:\s*(\S+)|run|output)\s*-->\s*$",
                          line)
        if marker:
            if marker.group(2):
                pending = ("file", marker.group(2))
            else:
                pending = (marker.group(1), None)
            i += 1
            continue
        fence = re.match(r"(\s*)(```+)", line)
        if fence:
            indent, ticks = fence.group(1), fence.group(2)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(ticks):
                body.append(lines[i][len(indent):])
                i += 1
            if pending:
                blocks.append((pending[0], pending[1], "\n".join(body) + "\n"))
            pending = None
            i += 1
            continue
        if line.strip():
            pending = None
        i += 1
    return blocks


def matches(expected, actual):
    """Whether `actual` contains the lines of `expected` in order; returns
    (ok, the first expected line not found)."""
    wanted = [l.strip() for l in expected.split("\n") if l.strip()]
    got = [l.rstrip() for l in actual.split("\n")]
    position = 0
    gap = False
    for line in wanted:
        if line == "...":
            gap = True
            continue
        pattern = re.compile(
            ".*".join(re.escape(part) for part in line.split("...")))
        # Without a gap the next line must follow at once.
        end = len(got) if gap or position == 0 else position + 1
        found = None
        for index in range(position, min(end, len(got))):
            if pattern.search(got[index]):
                found = index
                break
        if found is None:
            return False, line
        position = found + 1
        gap = False
    return True, None


def main():
    page, workdir, src_root, obj_root = sys.argv[1:5]
    env = dict(os.environ)
    for pair in sys.argv[5:]:
        name, _, value = pair.partition("=")
        env[name] = value
    with open(page) as f:
        blocks = parse(f.read())

    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    os.symlink(obj_root, os.path.join(workdir, "build"))
    os.symlink(os.path.join(src_root, "examples"),
               os.path.join(workdir, "examples"))

    # One script: each run block's output goes to a file of its own.
    script = ["set -euo pipefail"]
    runs = []  # (index of the run block, expected output or None)
    for kind, name, body in blocks:
        if kind == "file":
            with open(os.path.join(workdir, name), "w") as f:
                f.write(body)
        elif kind == "run":
            n = len(runs)
            runs.append([body, None])
            script.append("echo 'run-doc: block %d' >&2" % n)
            script.append("{\n%s} > .run-doc-%d.out 2>&1" % (body, n))
        elif kind == "output":
            if not runs or runs[-1][1] is not None:
                sys.exit("%s: an output block follows no run block" % page)
            runs[-1][1] = body
    if not runs:
        sys.exit("%s: no run blocks" % page)
    with open(os.path.join(workdir, ".run-doc.sh"), "w") as f:
        f.write("\n".join(script) + "\n")

    result = subprocess.run(["bash", ".run-doc.sh"], cwd=workdir, env=env,
                            stderr=subprocess.PIPE, text=True)
    checked = 0
    for n, (body, expected) in enumerate(runs):
        path = os.path.join(workdir, ".run-doc-%d.out" % n)
        if not os.path.exists(path):
            break
        with open(path) as f:
            actual = f.read()
        last = n == len(runs) - 1 or not os.path.exists(
            os.path.join(workdir, ".run-doc-%d.out" % (n + 1)))
        if last and result.returncode != 0:
            print("%s: block %d failed (exit %d):\n%s\n--- output ---\n%s" %
                  (page, n, result.returncode, body, actual))
            return 1
        if expected is None:
            continue
        ok, missing = matches(expected, actual)
        if not ok:
            print("%s: block %d:\n%s\ndoes not print\n  %s\n--- output ---\n%s"
                  % (page, n, body, missing, actual))
            return 1
        checked += 1
    if result.returncode != 0:
        print("%s: failed (exit %d)\n%s" % (page, result.returncode,
                                            result.stderr))
        return 1
    print("%d blocks run, %d outputs checked" % (len(runs), checked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
