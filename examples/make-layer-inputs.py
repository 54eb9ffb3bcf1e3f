#!/usr/bin/env python3
"""Writes random inputs for examples/longnet-layer.mlir as .npy files (no
NumPy needed): x uniform in [-1, 1), weights scaled by 1/sqrt(fan-in),
biases by 0.1, the layer norm weight near 1, a key padding mask with every
seventh key padded. Prints the --inputs= list for dilattn-run.

usage: make-layer-inputs.py OUT_DIR [SEED]
"""
import os
import random
import struct
import sys

B, N, E, F = 2, 64, 32, 64
# (name, shape, scale); scale None: the boolean key padding mask.
INPUTS = [("x", (B, N, E), 1.0)] + \
    [(w, (E, E), E ** -0.5) for w in ("wq", "wk", "wv", "wo")] + \
    [(b, (E,), 0.1) for b in ("bq", "bk", "bv", "bo")] + \
    [("ln_w", (E,), 1.0), ("ln_b", (E,), 0.1), ("pad", (B, N), None),
     ("w1", (F, E), E ** -0.5), ("b1", (F,), 0.1),
     ("w2", (E, F), F ** -0.5), ("b2", (E,), 0.1)]


def write_npy(path, descr, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d, " % s for s in shape) if len(shape) > 1
        else "%d," % shape[0])
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path + ".tmp", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
        f.write(header.encode("latin1") + payload)
    os.replace(path + ".tmp", path)


def main():
    out = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, shape, scale in INPUTS:
        count = 1
        for s in shape:
            count *= s
        path = os.path.join(out, name + ".npy")
        if scale is None:
            write_npy(path, "|b1", shape,
                      bytes(1 if i % 7 == 3 else 0 for i in range(count)))
        else:
            values = [rng.uniform(-scale, scale) or scale for _ in range(count)]
            write_npy(path, "<f4", shape, struct.pack("<%df" % count, *values))
        paths.append(path)
    print(",".join(paths))


if __name__ == "__main__":
    main()
