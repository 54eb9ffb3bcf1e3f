#!/usr/bin/env python3
"""Prints the relative Frobenius difference of two <f4 .npy files (no NumPy):
rel=X."""
import math
import struct
import sys


def load(path):
    data = open(path, "rb").read()
    header_len = struct.unpack("<H", data[8:10])[0]
    body = data[10 + header_len:]
    return struct.unpack("<%df" % (len(body) // 4), body)


a, b = load(sys.argv[1]), load(sys.argv[2])
assert len(a) == len(b), "sizes differ"
diff = math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
norm = math.sqrt(sum(y * y for y in b))
print("rel=%.3e" % (diff / norm if norm else diff))
print("ok" if diff <= 1e-5 * max(norm, 1e-30) else "mismatch")
