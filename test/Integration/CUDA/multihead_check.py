#!/usr/bin/env python3
"""Module mode on target cuda against an independent float64 reference.

Run ON the GPU machine (scripts/gpu-check calls it), from the repository
root:

    python3 test/Integration/CUDA/multihead_check.py DILATTN_RUN WORK_DIR

For every case of the grid below it writes a function in MLIR (a
`dilattn.multihead_dilated_attention` block, some with a residual add and a
feed-forward layer) and fresh random inputs (never zeros), runs it with
`dilattn-run FILE.mlir --target=cuda` and `--target=cpu`, and compares both
with this file's float64 NumPy implementation of docs/Contract.md sections 1-3 (the
split, dilated attention per pattern, the grouped and longnet merges, masks,
the sub-layer norm, the projections). f32 tolerance: 1e-5 relative
(docs/Contract.md section 1). Prints one line per case and exits 1 if any fails.
"""

import json
import math
import os
import subprocess
import sys
import time

import numpy as np

TOLERANCE = 1e-5

# name, B, N, H, D, segments, rates, mode, offset rule, causal, biases,
# layer norm, key padding mask, attn mask kind, extras
#   attn mask kinds: None, "bool2" (N,N) bool, "bool3" (B,N,N) bool,
#   "float4" (B,H,N,N) additive with -inf entries, "float3" (B,N,N)
#   extras: "cross" (distinct query/key/value inputs), "layer" (residual add
#   and a GELU feed-forward layer after the block)
GRID = [
    ("grouped_plain", 2, 128, 4, 64, [32, 64, 128], [1, 2, 4], "grouped",
     "cyclic", False, False, False, False, None, ()),
    ("grouped_biases_ln", 2, 128, 4, 64, [32, 64, 128], [1, 2, 4], "grouped",
     "cyclic", False, True, True, False, None, ()),
    ("longnet_padding", 2, 128, 4, 64, [32, 64, 128], [1, 2, 4], "longnet",
     "cyclic", False, True, True, True, None, ()),
    ("longnet_blocked_causal_bool2", 1, 128, 4, 64, [32, 128], [1, 4],
     "longnet", "blocked", True, True, False, False, "bool2", ()),
    ("grouped_causal_float4", 2, 128, 4, 64, [64, 128], [1, 2], "grouped",
     "cyclic", True, False, True, False, "float4", ()),
    ("grouped_uneven_heads", 1, 192, 5, 64, [64, 128, 192], [1, 2, 4],
     "grouped", "cyclic", False, True, True, True, "bool3", ()),
    ("longnet_short_segment_d128", 2, 200, 2, 128, [64, 128], [1, 2],
     "longnet", "cyclic", True, False, True, True, "float3", ()),
    ("grouped_cross", 2, 96, 4, 64, [32, 96], [1, 2], "grouped", "cyclic",
     False, True, True, False, None, ("cross",)),
    ("longnet_layer", 2, 128, 4, 64, [32, 64, 128], [1, 2, 4], "longnet",
     "cyclic", False, True, True, True, None, ("layer",)),
]


# ---------------------------------------------------------------- reference
def head_groups(h, k):
    base, extra = divmod(h, k)
    sizes = [base + (1 if i < extra else 0) for i in range(k)]
    starts = np.cumsum([0] + sizes[:-1])
    return list(zip(starts, sizes))


def pattern_attention(q, k, v, bias, w, r, o, causal, scale):
    """One pattern on one (batch, head): q, k, v (N, D), bias (N, N)."""
    n = q.shape[0]
    pos = np.arange(n)
    seg = pos // w
    rel = pos - seg * w
    selected = (rel >= o) & ((rel - o) % r == 0)
    allowed = selected[:, None] & selected[None, :] & (seg[:, None] ==
                                                       seg[None, :])
    if causal:
        allowed &= pos[None, :] <= pos[:, None]
    allowed &= bias > -np.inf
    s = scale * (q @ k.T) + np.where(allowed, bias, 0.0)
    s = np.where(allowed, s, -np.inf)
    has = allowed.any(axis=1)
    m = np.where(has, s.max(axis=1, initial=-np.inf), 0.0)
    p = np.where(allowed, np.exp(s - m[:, None]), 0.0)
    l = p.sum(axis=1)
    out = np.zeros_like(q)
    out[has] = (p[has] @ v) / l[has, None]
    lse = np.full(n, -np.inf)
    lse[has] = m[has] + np.log(l[has])
    return out, lse


def dilated_attention(q, k, v, bias, segments, rates, mode, rule, causal):
    b_, n, h, d = q.shape
    kk = len(segments)
    scale = 1.0 / math.sqrt(d)
    out = np.zeros_like(q)
    for b in range(b_):
        if mode == "grouped":
            for i, (start, size) in enumerate(head_groups(h, kk)):
                for j in range(start, start + size):
                    o, _ = pattern_attention(q[b, :, j], k[b, :, j],
                                             v[b, :, j], bias[b, j],
                                             segments[i], rates[i],
                                             i % rates[i], causal, scale)
                    out[b, :, j] = o / kk
        else:
            for j in range(h):
                outs, lses = [], []
                for i in range(kk):
                    r = rates[i]
                    o = j % r if rule == "cyclic" else j // -(-h // r)
                    oi, li = pattern_attention(q[b, :, j], k[b, :, j],
                                               v[b, :, j], bias[b, j],
                                               segments[i], r, o, causal,
                                               scale)
                    outs.append(oi)
                    lses.append(li)
                lse = np.stack(lses)  # (k, N)
                mx = lse.max(axis=0)
                has = mx > -np.inf
                wts = np.where(has, np.exp(lse - np.where(has, mx, 0.0)), 0.0)
                tot = wts.sum(axis=0)
                mix = sum(wts[i][:, None] * outs[i] for i in range(kk))
                out[b, has, j] = mix[has] / tot[has, None]
    return out


def layer_norm(x, g, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + beta


def gelu_tanh(z):
    return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) *
                                  (z + 0.044715 * z ** 3)))


def reference(case, arrays):
    (_, b, n, h, d, segments, rates, mode, rule, causal, biases, ln, kpm,
     am, extras) = case
    a = {name: value.astype(np.float64) if value.dtype != bool else value
         for name, value in arrays.items()}
    xq = a["xq"] if "cross" in extras else a["x"]
    xk = a["xk"] if "cross" in extras else a["x"]
    xv = a["xv"] if "cross" in extras else a["x"]

    def lin(x, w, bname):
        y = x @ w.T
        return y + a[bname] if biases else y

    e = h * d
    q = lin(xq, a["wq"], "bq").reshape(b, n, h, d)
    k = lin(xk, a["wk"], "bk").reshape(b, n, h, d)
    v = lin(xv, a["wv"], "bv").reshape(b, n, h, d)
    bias = np.zeros((b, h, n, n))
    if kpm:
        bias += np.where(a["kpm"], -np.inf, 0.0)[:, None, None, :]
    if am is not None:
        mask = a["am"]
        if mask.dtype == bool:
            mask = np.where(mask, -np.inf, 0.0)
        if mask.ndim == 2:
            mask = mask[None, None]
        elif mask.ndim == 3:
            mask = mask[:, None]
        bias = bias + mask
    o = dilated_attention(q, k, v, bias, segments, rates, mode, rule,
                          causal).reshape(b, n, e)
    if ln:
        o = layer_norm(o, a["g"], a["beta"])
    y = lin(o, a["wo"], "bo")
    if "layer" in extras:
        hdn = a["x"] + y
        up = gelu_tanh(hdn @ a["w1"].T + a["b1"])
        y = hdn + up @ a["w2"].T + a["b2"]
    return y


# ---------------------------------------------------------------- MLIR
def case_mlir(case):
    (_, b, n, h, d, segments, rates, mode, rule, causal, biases, ln, kpm,
     am, extras) = case
    e = h * d
    f = 2 * e
    x = "tensor<%dx%dx%dxf32>" % (b, n, e)
    w = "tensor<%dx%dxf32>" % (e, e)
    vec = "tensor<%dxf32>" % e
    args, types, order = [], [], []

    def arg(name, type_):
        args.append("%%%s: %s" % (name, type_))
        types.append(type_)
        order.append(name)

    cross = "cross" in extras
    if cross:
        for name in ("xq", "xk", "xv"):
            arg(name, x)
    else:
        arg("x", x)
    for name in ("wq", "wk", "wv", "wo"):
        arg(name, w)
    if biases:
        for name in ("bq", "bk", "bv", "bo"):
            arg(name, vec)
    if ln:
        arg("g", vec)
        arg("beta", vec)
    if kpm:
        arg("kpm", "tensor<%dx%dxi1>" % (b, n))
    if am is not None:
        shape = {"bool2": (n, n), "bool3": (b, n, n), "float3": (b, n, n),
                 "float4": (b, h, n, n)}[am]
        element = "i1" if am.startswith("bool") else "f32"
        arg("am", "tensor<%sx%s>" % ("x".join(map(str, shape)), element))
    layer = "layer" in extras
    if layer:
        arg("w1", "tensor<%dx%dxf32>" % (f, e))
        arg("b1", "tensor<%dxf32>" % f)
        arg("w2", "tensor<%dx%dxf32>" % (e, f))
        arg("b2", vec)
    operands = "%xq, %xk, %xv" if cross else "%x, %x, %x"
    attrs = " weights(%wq, %wk, %wv, %wo)"
    op_types = [x, x, x, w, w, w, w]
    if biases:
        attrs += " biases(%bq, %bk, %bv, %bo)"
        op_types += [vec] * 4
    if ln:
        attrs += " layer_norm(%g, %beta)"
        op_types += [vec] * 2
    if kpm:
        attrs += " key_padding_mask(%kpm)"
        op_types.append(types[order.index("kpm")])
    if am is not None:
        attrs += " attn_mask(%am)"
        op_types.append(types[order.index("am")])
    attrs += " num_heads = %d segment_lengths = [%s] dilation_rates = [%s]" % (
        h, ", ".join(map(str, segments)), ", ".join(map(str, rates)))
    attrs += " mode = %s offset_rule = %s" % (mode, rule)
    if causal:
        attrs += " causal"
    body = ["  %%a = dilattn.multihead_dilated_attention %s%s\n      : (%s) -> %s"
            % (operands, attrs, ", ".join(op_types), x)]
    result = "%a"
    if layer:
        hid = "tensor<%dx%dx%dxf32>" % (b, n, f)
        body.append("""  %%h = arith.addf %%x, %%a : %(x)s
  %%zero = arith.constant 0.0 : f32
  %%up_init = tensor.empty() : %(hid)s
  %%up_acc = linalg.fill ins(%%zero : f32) outs(%%up_init : %(hid)s) -> %(hid)s
  %%up = linalg.contract indexing_maps = [#map_x, #map_w, #map_acc]
      ins(%%h, %%w1 : %(x)s, tensor<%(f)dx%(e)dxf32>)
      outs(%%up_acc : %(hid)s) -> %(hid)s
  %%act = linalg.generic {indexing_maps = [#id3, #col, #id3],
                         iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%%up, %%b1 : %(hid)s, tensor<%(f)dxf32>) outs(%%up_init : %(hid)s) {
  ^bb0(%%in: f32, %%bias: f32, %%unused: f32):
    %%z = arith.addf %%in, %%bias : f32
    %%z2 = arith.mulf %%z, %%z : f32
    %%z3 = arith.mulf %%z, %%z2 : f32
    %%c = arith.constant 0.044715 : f32
    %%cz3 = arith.mulf %%c, %%z3 : f32
    %%inner = arith.addf %%z, %%cz3 : f32
    %%k = arith.constant 1.5957691216057308 : f32
    %%u2 = arith.mulf %%k, %%inner : f32
    %%ex = math.exp %%u2 : f32
    %%one = arith.constant 1.0 : f32
    %%two = arith.constant 2.0 : f32
    %%e1 = arith.addf %%ex, %%one : f32
    %%q = arith.divf %%two, %%e1 : f32
    %%tanh = arith.subf %%one, %%q : f32
    %%half = arith.constant 0.5 : f32
    %%hz = arith.mulf %%half, %%z : f32
    %%t1 = arith.addf %%one, %%tanh : f32
    %%gl = arith.mulf %%hz, %%t1 : f32
    linalg.yield %%gl : f32
  } -> %(hid)s
  %%down_init = tensor.empty() : %(x)s
  %%down_acc = linalg.fill ins(%%zero : f32) outs(%%down_init : %(x)s) -> %(x)s
  %%down = linalg.contract indexing_maps = [#map_x, #map_w, #map_acc]
      ins(%%act, %%w2 : %(hid)s, tensor<%(e)dx%(f)dxf32>)
      outs(%%down_acc : %(x)s) -> %(x)s
  %%y = linalg.generic {indexing_maps = [#id3, #col, #id3, #id3],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%%down, %%b2, %%h : %(x)s, tensor<%(e)dxf32>, %(x)s)
      outs(%%down_init : %(x)s) {
  ^bb0(%%dn: f32, %%bias: f32, %%res: f32, %%unused: f32):
    %%s = arith.addf %%dn, %%bias : f32
    %%r = arith.addf %%res, %%s : f32
    linalg.yield %%r : f32
  } -> %(x)s""" % dict(x=x, hid=hid, e=e, f=f))
        result = "%y"
    maps = ""
    if layer:
        maps = """#map_x = affine_map<(b, n, o, e) -> (b, n, e)>
#map_w = affine_map<(b, n, o, e) -> (o, e)>
#map_acc = affine_map<(b, n, o, e) -> (b, n, o)>
#id3 = affine_map<(b, n, o) -> (b, n, o)>
#col = affine_map<(b, n, o) -> (o)>
"""
    text = "%sfunc.func @block(%s) -> %s {\n%s\n  return %s : %s\n}\n" % (
        maps, ", ".join(args), x, "\n".join(body), result, x)
    return text, order


def case_inputs(case, order, rng):
    (_, b, n, h, d, segments, rates, mode, rule, causal, biases, ln, kpm,
     am, extras) = case
    e = h * d
    f = 2 * e
    arrays = {}
    for name in order:
        if name in ("x", "xq", "xk", "xv"):
            arrays[name] = rng.standard_normal((b, n, e))
        elif name in ("wq", "wk", "wv", "wo"):
            arrays[name] = rng.standard_normal((e, e)) / math.sqrt(e)
        elif name in ("bq", "bk", "bv", "bo", "beta", "b2"):
            arrays[name] = 0.1 * rng.standard_normal(e)
        elif name == "g":
            arrays[name] = 1 + 0.1 * rng.standard_normal(e)
        elif name == "kpm":
            pad = rng.random((b, n)) < 0.15
            pad[0, :] = False
            pad[0, -7:] = True  # a padded tail
            arrays[name] = pad
        elif name == "am":
            if am == "bool2":
                arrays[name] = rng.random((n, n)) < 0.2
            elif am == "bool3":
                arrays[name] = rng.random((b, n, n)) < 0.2
            else:
                shape = (b, n, n) if am == "float3" else (b, h, n, n)
                m = 0.5 * rng.standard_normal(shape)
                m[rng.random(shape) < 0.1] = -np.inf
                arrays[name] = m
        elif name == "w1":
            arrays[name] = rng.standard_normal((f, e)) / math.sqrt(e)
        elif name == "b1":
            arrays[name] = 0.1 * rng.standard_normal(f)
        elif name == "w2":
            arrays[name] = rng.standard_normal((e, f)) / math.sqrt(f)
    return {k: (v if v.dtype == bool else v.astype(np.float32))
            for k, v in arrays.items()}


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    tool, work = argv[1], argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(int(time.time()))
    failures = 0
    for case in GRID:
        name = case[0]
        text, order = case_mlir(case)
        path = os.path.join(work, name + ".mlir")
        with open(path, "w") as out:
            out.write(text)
        arrays = case_inputs(case, order, rng)
        files = []
        for arg in order:
            file = os.path.join(work, "%s.%s.npy" % (name, arg))
            np.save(file, arrays[arg])
            files.append(file)
        ref = reference(case, arrays)
        line = {"case": name}
        for target in ("cuda", "cpu"):
            out = os.path.join(work, "%s.%s.out.npy" % (name, target))
            cmd = [tool, path, "--entry=block", "--target=" + target,
                   "--inputs=" + ",".join(files), "--outputs=" + out]
            start = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=300)
            seconds = time.time() - start
            if proc.returncode != 0:
                line[target] = "error: " + (proc.stderr.strip() or
                                            proc.stdout.strip())[-400:]
                failures += target == "cuda"
                continue
            got = np.load(out).astype(np.float64)
            rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
            finite = bool(np.isfinite(got).all())
            ok = finite and rel <= TOLERANCE
            line[target] = {"rel_err": rel, "finite": finite, "ok": ok,
                            "seconds": round(seconds, 2)}
            if not ok:
                failures += 1
        print(json.dumps(line), flush=True)
    print("multihead_check: %d of %d cases failed" % (failures, len(GRID)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
