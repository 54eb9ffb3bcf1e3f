#!/usr/bin/env python3
"""Writes small .npy files for the dilattn-run tests without NumPy.

usage: make_npy.py OUT DESCR SHAPE [FILL] [--truncate N] [--fortran]
  DESCR  '<f4', '<f2', '<i4', '|b1', '>f4'...
  SHAPE  comma separated sizes, e.g. 2,64
  FILL   'alt' (alternating true/false for |b1, ramp for floats), 'false',
         'true' or a number
"""
import struct
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out, descr, shape_text = args[0], args[1], args[2]
    fill = args[3] if len(args) > 3 else "alt"
    shape = tuple(int(s) for s in shape_text.split(",") if s)
    fortran = "--fortran" in sys.argv
    truncate = None
    for i, a in enumerate(sys.argv):
        if a == "--truncate":
            truncate = int(sys.argv[i + 1])
    count = 1
    for s in shape:
        count *= s
    kind = descr[1:]
    body = bytearray()
    for i in range(count):
        if kind == "b1":
            value = {"alt": i % 3 == 0, "false": False, "true": True}.get(fill, False)
            body += bytes([1 if value else 0])
        else:
            value = ((i * 37) % 101) / 50.0 - 1.0 if fill == "alt" else float(fill)
            order = ">" if descr[0] == ">" else "<"
            code = {"f4": "f", "f8": "d", "f2": "e", "i4": "i"}[kind]
            if code == "i":
                value = int(value * 10)
            body += struct.pack(order + code, value)
    shape_repr = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_repr)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(body)
    if truncate is not None:
        data = data[:truncate]
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
