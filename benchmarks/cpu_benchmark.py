#!/usr/bin/env python3
"""CPU benchmark: dilattn against its peers, in one run, as ratios.

Measures on this machine, in the same run:
  - dilattn (dilattn-run --bench) on config C1 of BENCHMARKS.md and on a
    sweep of sequence lengths with C1's patterns;
  - the seed algorithm of dilated_attention_pytorch (gather, matmul, softmax,
    matmul, scatter) in NumPy/OpenBLAS float32, checked against dilattn's
    output so that both compute the same thing;
  - dense attention in NumPy (what dilation avoids);
  - OpenBLAS sgemm 2048^3 on all cores (the machine's practical ceiling);
  - JIT latencies (dilattn-bench-jit): first compile, disk hit, memory hit.
Writes a Markdown table and a plot. Benchmarks report; they are not tests.

usage: cpu_benchmark.py BUILD_DIR OUT_MARKDOWN OUT_PNG
"""
import ctypes
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

SEGMENTS = [512, 1024, 2048, 4096]
RATES = [1, 2, 4, 8]


def median_time(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def seed_dilated_attention(q, k, v, segments, rates):
    """dilated_attention_pytorch's DilatedAttention (grouped), in NumPy, with
    its defects fixed as SPEC.md section 1 says (offset i mod r, uneven head
    groups, output divided by the number of patterns)."""
    b, n, h, d = q.shape
    count = len(segments)
    out = np.zeros_like(q)
    scale = 1.0 / np.sqrt(d)
    base, extra = divmod(h, count)
    h0 = 0
    for i, (w, r) in enumerate(zip(segments, rates)):
        g = base + (1 if i < extra else 0)
        h1 = h0 + g
        offset = i % r
        segs = n // w

        def gather(x):
            x = x[:, :, h0:h1].reshape(b, segs, w, g, d)[:, :, offset::r]
            return np.ascontiguousarray(x.transpose(0, 1, 3, 2, 4))

        qs, ks, vs = gather(q), gather(k), gather(v)
        s = np.matmul(qs, ks.swapaxes(-1, -2)) * np.float32(scale)
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        o = np.matmul(s, vs)
        view = out.reshape(b, segs, w, h, d)
        view[:, :, offset::r, h0:h1] = o.transpose(0, 1, 3, 2, 4) / count
        h0 = h1
    return out


def dense_attention(q, k, v):
    b, n, h, d = q.shape
    out = np.empty_like(q)
    scale = np.float32(1.0 / np.sqrt(d))
    for bi in range(b):
        for hi in range(h):
            s = np.matmul(q[bi, :, hi], k[bi, :, hi].T) * scale
            s -= s.max(axis=-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            out[bi, :, hi] = s @ v[bi, :, hi]
    return out


def effective_gflop(n, h, d):
    groups = [h // len(SEGMENTS)] * len(SEGMENTS)
    return sum(4 * g * (n / w) * (w / r) ** 2 * d
               for g, w, r in zip(groups, SEGMENTS, RATES)) / 1e9


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype="<f4"))


def run_dilattn(build, args, env):
    result = subprocess.run([os.path.join(build, "bin", "dilattn-run")] + args,
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout.strip().splitlines()


def openblas_config():
    for name in ("libopenblas.so.0", "libopenblasp-r0.3.21.so"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return "%s (core %s, %d threads)" % (
                lib.openblas_get_config().decode(),
                lib.openblas_get_corename().decode(),
                lib.openblas_get_num_threads())
        except (OSError, AttributeError):
            continue
    return "unknown BLAS"


def main():
    build, out_md, out_png = sys.argv[1:4]
    env = dict(os.environ)
    cache = tempfile.mkdtemp(prefix="dilattn-bench-cache-")
    env["DILATTN_CACHE_DIR"] = cache
    rng = np.random.default_rng(2026)
    reps = 5
    rows = []

    # The ceiling: sgemm 2048^3 on all cores.
    a = rng.standard_normal((2048, 2048), dtype=np.float32)
    bm = rng.standard_normal((2048, 2048), dtype=np.float32)
    sgemm_s = median_time(lambda: a @ bm, reps)
    sgemm_gflops = 2 * 2048 ** 3 / sgemm_s / 1e9

    # C1: B=1 N=16384 H=8 D=64.
    b, n, h, d = 1, 16384, 8, 64
    q, k, v = (rng.uniform(-1, 1, (b, n, h, d)).astype(np.float32)
               for _ in range(3))
    tmp = tempfile.mkdtemp(prefix="dilattn-bench-")
    for name, x in (("q", q), ("k", k), ("v", v)):
        write_npy(os.path.join(tmp, name + ".npy"), x)
    common = ["--segment-lengths=" + ",".join(map(str, SEGMENTS)),
              "--dilation-rates=" + ",".join(map(str, RATES))]
    files = ["--q=" + os.path.join(tmp, "q.npy"),
             "--k=" + os.path.join(tmp, "k.npy"),
             "--v=" + os.path.join(tmp, "v.npy")]
    lines = run_dilattn(build, common + files + [
        "--out=" + os.path.join(tmp, "out.npy"), "--bench=%d" % reps], env)
    c1 = json.loads(lines[-1])
    dilattn_out = np.load(os.path.join(tmp, "out.npy"))
    seed_s = median_time(
        lambda: seed_dilated_attention(q, k, v, SEGMENTS, RATES), reps)
    seed_out = seed_dilated_attention(q, k, v, SEGMENTS, RATES)
    agreement = (np.linalg.norm(dilattn_out - seed_out) /
                 np.linalg.norm(seed_out))
    gflop = effective_gflop(n, h, d)

    # Sweep of N with C1's patterns (time against N).
    sweep = []
    for n_sweep in (4096, 8192, 16384, 32768):
        lines = run_dilattn(build, common + [
            "--shape=1,%d,8,64" % n_sweep, "--bench=%d" % reps], env)
        dil_ms = json.loads(lines[-1])["median_ms"]
        qs, ks, vs = (rng.uniform(-1, 1, (1, n_sweep, 8, 64)).astype(np.float32)
                      for _ in range(3))
        seed_ms = 1e3 * median_time(
            lambda: seed_dilated_attention(qs, ks, vs, SEGMENTS, RATES), 3)
        dense_ms = (1e3 * median_time(lambda: dense_attention(qs, ks, vs), 1)
                    if n_sweep <= 16384 else float("nan"))
        sweep.append((n_sweep, dil_ms, seed_ms, dense_ms))

    # JIT latencies.
    jit = json.loads(subprocess.run(
        [os.path.join(build, "bin", "dilattn-bench-jit")], capture_output=True,
        text=True, check=True).stdout.strip().splitlines()[-1])

    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    date = datetime.date.today().isoformat()
    with open(out_md, "w") as f:
        f.write("<!-- generated by benchmarks/cpu_benchmark.py -->\n")
        f.write("Run of %s on %s (%d cores), %s, %s; NumPy %s with %s.\n\n" % (
            date, cpu, os.cpu_count(), platform.platform(),
            "dilattn-run with %d threads" % c1["threads"], np.__version__,
            openblas_config()))
        f.write("| C1 (B=1 N=16384 H=8 D=64, grouped, %.2f GFLOP) | median ms "
                "| GFLOP/s | ratio |\n| --- | --- | --- | --- |\n" % gflop)
        f.write("| dilattn | %.1f | %.1f | 1.00 |\n" % (
            c1["median_ms"], c1["gflops"]))
        f.write("| seed algorithm, NumPy/OpenBLAS (gather, matmul, softmax, "
                "matmul, scatter) | %.1f | %.1f | %.2fx slower |\n" % (
                    seed_s * 1e3, gflop / seed_s, seed_s * 1e3 / c1["median_ms"]))
        f.write("| OpenBLAS sgemm 2048^3, all cores (ceiling) | - | %.1f | "
                "dilattn at %.0f%% of it |\n\n" % (
                    sgemm_gflops, 100 * c1["gflops"] / sgemm_gflops))
        f.write("dilattn and the NumPy seed algorithm agree to a relative "
                "error of %.1e on C1's inputs.\n\n" % agreement)
        f.write("| JIT | measured |\n| --- | --- |\n")
        f.write("| first compile of C1 (empty cache) | %.0f ms |\n" %
                jit["first_compile_ms"])
        f.write("| disk-cache hit in a fresh JIT (new process) | %.1f ms |\n" %
                jit["disk_hit_ms"])
        f.write("| in-memory cache hit | %.2f us |\n" % jit["memory_hit_us"])
        f.write("| whole call on a tiny problem (check, lookup, dispatch, run) "
                "| %.1f us |\n\n" % jit["tiny_call_us"])
        f.write("| N (C1 patterns, H=8, D=64) | dilattn ms | seed NumPy ms | "
                "dense NumPy ms |\n| --- | --- | --- | --- |\n")
        for n_sweep, dil_ms, seed_ms, dense_ms in sweep:
            f.write("| %d | %.1f | %.1f | %s |\n" % (
                n_sweep, dil_ms, seed_ms,
                "-" if np.isnan(dense_ms) else "%.0f" % dense_ms))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ns = [s[0] for s in sweep]
    ax.loglog(ns, [s[1] for s in sweep], "o-", label="dilattn (JIT, CPU)")
    ax.loglog(ns, [s[2] for s in sweep], "s-", label="seed algorithm (NumPy)")
    dense = [(s[0], s[3]) for s in sweep if not np.isnan(s[3])]
    ax.loglog([x for x, _ in dense], [y for _, y in dense], "^-",
              label="dense attention (NumPy)")
    ax.set_xlabel("sequence length N")
    ax.set_ylabel("time (ms)")
    ax.set_title("C1 patterns, H=8, D=64, f32, %d cores (%s)" % (
        os.cpu_count(), date))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    print(open(out_md).read())


if __name__ == "__main__":
    main()
