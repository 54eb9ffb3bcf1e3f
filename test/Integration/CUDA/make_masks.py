#!/usr/bin/env python3
"""Writes the .npy mask files that the CUDA conformance grid names.

usage: make_masks.py DIR [GRID_FILE | TEXT | NAME.npy] ...

Every `$MASKS/NAME.npy` found in the given files (or in the arguments' text
when they are not files), and every bare NAME.npy argument, is written into
DIR. The name says what the mask is (sizes joined by 'x'):

  kpm_BxN        key padding mask, bool (B, N), about 30% True (padded)
  kpmfull_BxN    the same, but batch 0 entirely padded (rows with no key)
  bool_SHAPE     attn mask, bool, (N, N) / (B, N, N) / (B, H, N, N),
                 about 25% True (may not attend)
  float_SHAPE    attn mask, '<f4' additive bias uniform in [-2, 2), every
                 7th element -inf (forbidden)

Contents are deterministic (seeded by the name). NumPy only.
"""
import os
import re
import sys
import zlib

import numpy as np

REFERENCE = re.compile(r"\$MASKS/([A-Za-z0-9_]+)\.npy")
NAME = re.compile(r"^(kpm|kpmfull|bool|float)_(\d+(?:x\d+)*)$")


def make(name):
    match = NAME.match(name)
    if not match:
        raise ValueError("mask name %r does not follow KIND_SHAPE "
                         "(kpm, kpmfull, bool, float)" % name)
    kind, dims = match.group(1), tuple(int(d) for d in match.group(2).split("x"))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if kind in ("kpm", "kpmfull"):
        if len(dims) != 2:
            raise ValueError("%s: a key padding mask is (B, N)" % name)
        mask = rng.random(dims) < 0.3
        if kind == "kpmfull":
            mask[0, :] = True
        return mask
    if len(dims) not in (2, 3, 4) or dims[-1] != dims[-2]:
        raise ValueError("%s: an attn mask is (N, N), (B, N, N) or "
                         "(B, H, N, N)" % name)
    if kind == "bool":
        return rng.random(dims) < 0.25
    bias = rng.uniform(-2.0, 2.0, dims).astype("<f4")
    bias.reshape(-1)[::7] = -np.inf
    return bias


def names_in(argument):
    if argument.endswith(".npy") and "/" not in argument:
        return [argument[:-4]]
    text = argument
    if os.path.isfile(argument):
        with open(argument) as f:
            text = f.read()
    return REFERENCE.findall(text)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = argv[1]
    os.makedirs(directory, exist_ok=True)
    wanted = []
    for argument in argv[2:]:
        for name in names_in(argument):
            if name not in wanted:
                wanted.append(name)
    for name in wanted:
        path = os.path.join(directory, name + ".npy")
        if os.path.exists(path):
            continue
        array = make(name)
        tmp = path + ".tmp.npy"
        np.save(tmp, np.ascontiguousarray(array))
        os.replace(tmp, path)
    print("make_masks: %d mask file(s) in %s" % (len(wanted), directory))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
