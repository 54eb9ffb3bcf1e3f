"""Prints the PTX that gpu-module-to-binary (format=isa) embedded in the
gpu.binary ops of an MLIR file, decoded from MLIR's string escapes."""

import re
import sys


def main():
    text = open(sys.argv[1]).read()
    for literal in re.findall(r'assembly = "((?:[^"\\]|\\.)*)"', text):
        decoded = re.sub(
            r"\\([0-9A-Fa-f]{2})|\\\\|\\\"",
            lambda m: chr(int(m.group(1), 16))
            if m.group(1)
            else m.group(0)[1],
            literal,
        )
        sys.stdout.write(decoded.rstrip("\x00"))


main()
