#!/usr/bin/env python3
"""The multi-head block on the GPU: dilattn's module mode against PyTorch.

Run ON the GPU machine (scripts/gpu-check calls it):

    python3 benchmarks/gpu_block.py DILATTN_RUN WORK_DIR [--reps=N] [--plot=PNG]

The block is docs/Contract.md section 2 plus the residual add, with biases and the
sub-layer norm, grouped mode, in float32 (module mode takes f32 tensors), at
C1's attention size (B=1 N=16384 H=8 D=64, E=512, segments
512,1024,2048,4096, dilations 1,2,4,8). dilattn runs it with `dilattn-run
FILE.mlir --target=cuda --bench=N` (device buffers, every kernel of the
block, the wall time of a whole run; --profile adds each launch's median
time); the peer is the seed package's
algorithm in PyTorch on the same card, in the same call: F.linear
projections, a gather, SDPA per pattern and a scatter, layer norm, the out
projection, with TF32 off so that both sides compute in f32. Before timing,
dilattn's output is checked against the PyTorch float64 block. Prints one
JSON object per row and a last line with the ratio; --plot draws both as
bars, dilattn's split by kernel kind (where matplotlib is installed).
"""

import json
import math
import os
import subprocess
import sys

import numpy as np

# The block and C1's patterns as the CPU benchmark writes them.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_benchmark import RATES, SEGMENTS, block_mlir  # noqa: E402

B, N, H, D = 1, 16384, 8, 64
E = H * D


def torch_block(torch, F, x, p):
    """The seed algorithm: projections, gather / SDPA / scatter per head
    group, layer norm, out projection, residual."""
    b, n, e = x.shape
    d = e // H
    q = F.linear(x, p["wq"], p["bq"]).view(b, n, H, d)
    k = F.linear(x, p["wk"], p["bk"]).view(b, n, H, d)
    v = F.linear(x, p["wv"], p["bv"]).view(b, n, H, d)
    out = torch.zeros_like(q)
    groups = len(SEGMENTS)
    base, extra = divmod(H, groups)
    start = 0
    for i, (w, r) in enumerate(zip(SEGMENTS, RATES)):
        size = base + (1 if i < extra else 0)
        heads = slice(start, start + size)
        start += size
        offset = i % r

        def gather(t):
            t = t[:, :, heads].reshape(b, n // w, w, size, d)[:, :, offset::r]
            return t.reshape(b * (n // w), -1, size, d).transpose(1, 2)

        o = F.scaled_dot_product_attention(gather(q), gather(k), gather(v))
        o = o.transpose(1, 2).reshape(b, n // w, -1, size, d)
        view = out[:, :, heads].view(b, n // w, w, size, d)
        view[:, :, offset::r] = o / groups
    o = out.reshape(b, n, e)
    o = F.layer_norm(o, (e,), p["g"], p["beta"], eps=1e-5)
    return F.linear(o, p["wo"], p["bo"]) + x


def median_ms(torch, fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def kernel_kind(name):
    """What a launch of dilattn's profile computes, from its kernel's name
    (<module>::<function>)."""
    if "__dilattn_gpu" in name:
        return "dilated attention"
    if name.endswith("::linear"):
        return "projections (tiled GEMM)"
    return "layer norm, masks, residual, copies"


def draw(path, total_ms, kinds, peer_ms, card):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib here: no plot")
        return
    fig, ax = plt.subplots(figsize=(8, 2.6))
    left = 0.0
    colours = ["#d62728", "#ff9896", "#fdd0a2"]
    for (kind, ms), colour in zip(sorted(kinds.items()), colours):
        ax.barh(1, ms, left=left, color=colour, label="dilattn: " + kind)
        left += ms
    ax.barh(1, max(total_ms - left, 0), left=left, color="#cccccc",
            label="dilattn: launch gaps")
    ax.barh(0, peer_ms, color="#1f77b4",
            label="PyTorch: F.linear + gather/SDPA/scatter + layer_norm")
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["PyTorch f32\n%.2f ms" % peer_ms,
                        "dilattn f32\n%.2f ms" % total_ms])
    ax.set_xlabel("ms (median)")
    ax.set_title("C1-sized multi-head block (B=1 N=16384 E=512 H=8), f32, "
                 + card)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("plot: " + path)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    reps = 20
    plot = None
    for a in argv[1:]:
        if a.startswith("--reps="):
            reps = int(a.split("=", 1)[1])
        if a.startswith("--plot="):
            plot = a.split("=", 1)[1]
    if len(args) != 2:
        print(__doc__)
        return 2
    tool, work = args
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(7)
    names = ["x", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo", "g", "beta"]
    arrays = {"x": rng.standard_normal((B, N, E)).astype(np.float32)}
    for name in ("wq", "wk", "wv", "wo"):
        arrays[name] = (rng.standard_normal((E, E)) / math.sqrt(E)).astype(
            np.float32)
    for name in ("bq", "bk", "bv", "bo", "beta"):
        arrays[name] = (0.1 * rng.standard_normal(E)).astype(np.float32)
    arrays["g"] = (1 + 0.1 * rng.standard_normal(E)).astype(np.float32)
    files = []
    for name in names:
        path = os.path.join(work, name + ".npy")
        np.save(path, arrays[name])
        files.append(path)
    mlir = os.path.join(work, "block.mlir")
    with open(mlir, "w") as out:
        out.write(block_mlir(B, N, E, H))
    result = os.path.join(work, "out.npy")
    cmd = [tool, mlir, "--entry=block", "--target=cuda",
           "--inputs=" + ",".join(files), "--outputs=" + result,
           "--bench=%d" % reps, "--profile"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        print(json.dumps({"row": "dilattn", "error": proc.stderr.strip()}))
        return 1
    lines = proc.stdout.strip().splitlines()
    dilattn = json.loads(lines[-1])
    # The per-launch profile (slowest first), for the log, summed by kind.
    kinds = {}
    for line in lines[:-1]:
        print("# " + line)
        fields = line.split()
        if len(fields) == 4 and fields[0].isdigit():
            kinds[kernel_kind(fields[3])] = (
                kinds.get(kernel_kind(fields[3]), 0.0) + float(fields[1]))

    import torch
    import torch.nn.functional as F
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda")
    p64 = {k: torch.from_numpy(v).to(device, torch.float64)
           for k, v in arrays.items()}
    with torch.no_grad():
        ref = torch_block(torch, F, p64["x"], p64).cpu().numpy()
    got = np.load(result).astype(np.float64)
    rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    p32 = {k: v.float() for k, v in p64.items()}
    with torch.no_grad():
        peer_ms = median_ms(torch, lambda: torch_block(torch, F, p32["x"], p32),
                            reps)
    card = torch.cuda.get_device_name(0)
    print(json.dumps({"row": "dilattn module mode, f32", "block": "C1-sized",
                      "median_ms": dilattn["median_ms"], "rel_err": rel,
                      "compile_ms": dilattn["compile_ms"],
                      "kernel_launches": dilattn.get("kernel_launches"),
                      "card": card}))
    print(json.dumps({"row": "PyTorch seed block, f32 (TF32 off)",
                      "median_ms": peer_ms, "torch": torch.__version__}))
    print(json.dumps({"row": "dilattn kernels by kind (profiled, ms)",
                      "kinds": kinds}))
    print(json.dumps({"ratio_dilattn_over_torch":
                      dilattn["median_ms"] / peer_ms,
                      "check_ok": rel <= 1e-5}))
    if plot:
        draw(plot, dilattn["median_ms"], kinds, peer_ms, card)
    return 0 if rel <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
