#!/usr/bin/env python3
"""Checks the symbol-version table of docs/api.md against the library.

    check-symbol-versions.py SRC_ROOT LIBRARY READELF

Reads the table between `<!-- symbol-versions:begin -->` and
`<!-- symbol-versions:end -->` in docs/api.md (symbol version, interface
version, functions), the functions the header declares (DILATTN_C_EXPORT)
and what LIBRARY exports (`READELF --dyn-syms --wide`). Fails, naming each
difference, unless every exported function is in the table under the
version it is exported with, every declared function is exported, row V is
`DILATTN_0.V` and the last row is DILATTN_C_API_VERSION of the header.
"""

import re
import subprocess
import sys


def table(root):
    with open("%s/docs/api.md" % root) as f:
        text = f.read()
    match = re.search(r"<!-- symbol-versions:begin -->(.*?)"
                      r"<!-- symbol-versions:end -->", text, re.S)
    if not match:
        sys.exit("docs/api.md: no symbol-versions table")
    rows = []
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        functions = set(re.findall(r"`(dilattn_\w+)`", cells[2]))
        rows.append((cells[0].strip("`"), int(cells[1]), functions))
    return rows


def header(root):
    with open("%s/include/dilattn-c/dilattn.h" % root) as f:
        text = f.read()
    version = int(re.search(r"#define DILATTN_C_API_VERSION (\d+)",
                            text).group(1))
    declared = set(re.findall(r"DILATTN_C_EXPORT[^;(]*?\b(dilattn_\w+)\s*\(",
                              text, re.S))
    return version, declared


def exported(library, readelf):
    output = subprocess.run([readelf, "--dyn-syms", "--wide", library],
                            check=True, capture_output=True,
                            text=True).stdout
    symbols = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 8 or fields[3] != "FUNC" or fields[6] == "UND":
            continue
        name, _, version = fields[7].partition("@")
        symbols[name] = version.lstrip("@")
    return symbols


def main():
    root, library, readelf = sys.argv[1:4]
    rows = table(root)
    api_version, declared = header(root)
    symbols = exported(library, readelf)
    problems = []
    for index, (node, interface, _) in enumerate(rows, start=1):
        if node != "DILATTN_0.%d" % index or interface != index:
            problems.append("row %d is %s, interface %d: expected "
                            "DILATTN_0.%d, interface %d"
                            % (index, node, interface, index, index))
    if rows and rows[-1][1] != api_version:
        problems.append("the last row is interface version %d, the header "
                        "says DILATTN_C_API_VERSION %d"
                        % (rows[-1][1], api_version))
    listed = {}
    for node, _, functions in rows:
        for function in functions:
            listed[function] = node
    for name, node in sorted(symbols.items()):
        if name not in listed:
            problems.append("%s (exported under %s) is not in the table"
                            % (name, node))
        elif listed[name] != node:
            problems.append("%s is listed under %s but exported under %s"
                            % (name, listed[name], node))
    for name in sorted(set(listed) - set(symbols)):
        problems.append("%s is in the table but not exported" % name)
    for name in sorted(declared - set(symbols)):
        problems.append("%s is declared in dilattn.h but not exported" % name)
    for problem in problems:
        print("error: " + problem)
    if problems:
        return 1
    print("%d functions in %d symbol versions, as docs/api.md lists"
          % (len(symbols), len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
