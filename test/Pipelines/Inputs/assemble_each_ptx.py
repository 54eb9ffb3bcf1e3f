"""Assembles the PTX of every gpu.binary of an MLIR file (format=isa) with
ptxas for sm_90, one module at a time: `assemble_each_ptx.py PTXAS FILE
WORKDIR`. Exits non-zero with ptxas's message when one does not assemble."""

import os
import re
import subprocess
import sys


def main():
    ptxas, path, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    text = open(path).read()
    count = 0
    for literal in re.findall(r'assembly = "((?:[^"\\]|\\.)*)"', text):
        ptx = re.sub(
            r"\\([0-9A-Fa-f]{2})|\\\\|\\\"",
            lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(0)[1],
            literal,
        ).rstrip("\x00")
        source = os.path.join(work, "module%d.ptx" % count)
        with open(source, "w") as out:
            out.write(ptx)
        subprocess.run([ptxas, "-arch=sm_90", "-O3", source, "-o",
                        source + ".cubin"], check=True)
        count += 1
    if count == 0:
        sys.exit("no gpu.binary with PTX in " + path)
    print("assembled %d modules" % count)


main()
