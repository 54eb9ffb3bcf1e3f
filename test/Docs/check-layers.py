#!/usr/bin/env python3
"""Checks the layer table of docs/Architecture.md against the CMake files.

    check-layers.py SRC_ROOT

Reads every library defined under lib/ (dilattn_add_library, add_library)
with the dilattn libraries it links (LINK_LIBS, target_link_libraries), and
the table between `<!-- layers:begin -->` and `<!-- layers:end -->` in
docs/Architecture.md. Fails, naming each difference, when a library is
missing from the table (or listed but not defined), when the table's links
differ from CMake's, or when a library links one of a higher layer, or of
its own layer without the table saying so.
"""

import os
import re
import sys

KEYWORDS = {"LINK_LIBS", "MLIR_LIBS", "DEPENDS", "PUBLIC", "PRIVATE",
            "INTERFACE", "SHARED", "STATIC"}


def calls(text, name):
    """Yields the argument lists of every call of `name` in CMake text."""
    text = re.sub(r"#[^\n]*", "", text)
    for match in re.finditer(r"\b%s\s*\(([^)]*)\)" % re.escape(name), text):
        yield match.group(1).split()


def cmake_libraries(root):
    libraries = {}  # name -> (folder, set of linked names)
    links = {}
    for folder, _, files in os.walk(os.path.join(root, "lib")):
        if "CMakeLists.txt" not in files:
            continue
        with open(os.path.join(folder, "CMakeLists.txt")) as f:
            text = f.read()
        rel = os.path.relpath(folder, root)
        for args in calls(text, "dilattn_add_library"):
            name = args[0]
            libraries[name] = rel
            deps, section = [], None
            for arg in args[1:]:
                if arg in KEYWORDS:
                    section = arg
                elif section == "LINK_LIBS":
                    deps.append(arg)
            links.setdefault(name, set()).update(deps)
        for args in calls(text, "add_library"):
            libraries[args[0]] = rel
            links.setdefault(args[0], set())
        for args in calls(text, "target_link_libraries"):
            links.setdefault(args[0], set()).update(
                a for a in args[1:] if a not in KEYWORDS)
    # Only links to dilattn libraries count (not LLVM, MLIR, ${...}).
    return {name: (libraries[name], {d for d in links[name] if d in libraries})
            for name in libraries}


def table(root):
    path = os.path.join(root, "docs", "Architecture.md")
    with open(path) as f:
        text = f.read()
    match = re.search(r"<!-- layers:begin -->(.*?)<!-- layers:end -->", text,
                      re.S)
    if not match:
        sys.exit("docs/Architecture.md: no layers:begin/layers:end table")
    rows = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].isdigit():
            continue
        name = cells[1].strip("`")
        if name in rows:
            sys.exit("docs/Architecture.md: %s listed twice" % name)
        rows[name] = (int(cells[0]), set(re.findall(r"`([^`]+)`", cells[3])))
    return rows


def main():
    root = sys.argv[1]
    libraries = cmake_libraries(root)
    rows = table(root)
    errors = []
    for name in sorted(set(libraries) - set(rows)):
        errors.append("%s (%s) is not in the layer table" %
                      (name, libraries[name][0]))
    for name in sorted(set(rows) - set(libraries)):
        errors.append("%s is in the layer table but no library under lib/" %
                      name)
    for name in sorted(set(libraries) & set(rows)):
        layer, documented = rows[name]
        actual = libraries[name][1]
        if documented != actual:
            errors.append("%s: the table says it links {%s}, CMake {%s}" % (
                name, " ".join(sorted(documented)), " ".join(sorted(actual))))
        for dep in sorted(actual):
            if dep in rows and rows[dep][0] >= layer:
                errors.append(
                    "%s (layer %d) links %s (layer %d): a library may link "
                    "only libraries of lower layers" %
                    (name, layer, dep, rows[dep][0]))
    for error in errors:
        print("error: " + error)
    if errors:
        sys.exit(1)
    print("%d libraries, layers consistent with CMake" % len(libraries))


if __name__ == "__main__":
    main()
