#!/usr/bin/env python3
"""Writes one .npy file of random values (no NumPy needed), the input of
`dilattn-run FILE.mlir --inputs=...` and of single calls (`--q=...`).

usage: make-npy.py OUT.npy SHAPE [SEED]   SHAPE: comma-separated sizes;
       make-npy.py OUT.npy SHAPE --mask   a boolean mask, every 7th true
"""
import os
import random
import struct
import sys

# The writer of make-layer-inputs.py; no .pyc left in the checkout.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from importlib import import_module

write_npy = import_module("make-layer-inputs").write_npy


def main():
    path, shape = sys.argv[1], tuple(int(s) for s in sys.argv[2].split(","))
    count = 1
    for size in shape:
        count *= size
    if sys.argv[3:] == ["--mask"]:
        write_npy(path, "|b1", shape,
                  bytes(1 if i % 7 == 3 else 0 for i in range(count)))
        return
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    values = [rng.uniform(-1, 1) for _ in range(count)]
    write_npy(path, "<f4", shape, struct.pack("<%df" % count, *values))


if __name__ == "__main__":
    main()
