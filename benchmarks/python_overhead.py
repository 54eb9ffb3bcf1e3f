#!/usr/bin/env python3
"""What the Python package adds to a call (docs/python.md, issue 19's overhead
target): per-call time of

  raw     one ctypes call of dilattn_run_host / dilattn_run_cuda on prepared
          arguments (the floor for any ctypes binding),
  func    dilattn.torch.dilated_attention (checks, call cache, output
          allocation, the ctypes call),
  module  DilatedAttention.forward,

on a tiny problem (where the kernel costs little, so the difference is the
binding's), and on C1 (CPU) or G1 (CUDA, bf16) against `dilattn-run --bench`
on the same configuration (the raw kernel time of the C++ tool).

  benchmarks/python_overhead.py [--device cpu|cuda] [--dilattn-run PATH]
                                [--reps N]

Needs DILATTN_LIBRARY (or an installed package) and torch.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

import torch  # noqa: E402

import dilattn  # noqa: E402
from dilattn import _lib  # noqa: E402
from dilattn.torch import DilatedAttention, dilated_attention  # noqa: E402
from dilattn.torch import _ops  # noqa: E402

CONFIGS = {
    # name: (B, N, H, D, segments, dilations, dtype)
    "C1": (1, 16384, 8, 64, (512, 1024, 2048, 4096), (1, 2, 4, 8),
           torch.float32),
    "G1": (1, 32768, 16, 128, (2048, 4096, 8192, 16384), (1, 2, 4, 8),
           torch.bfloat16),
}


def timed(fns, reps, device):
    """Median seconds per call of each function over `reps` rounds after
    warm-up; the functions take turns within a round, so that the load of a
    shared machine falls on all of them alike."""
    for fn in fns.values():
        for _ in range(2):
            fn()
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def raw_call(q, k, v, segments, dilations, fresh=False):
    """A closure making exactly the ctypes call forward_impl makes, with every
    argument prepared once; with fresh=True it allocates the output anew
    each call, as any PyTorch op does (the CPU then faults its pages in)."""
    lib = _lib.library()
    call = _lib.call_handle(segments, dilations, 0, 0, False, None)
    out = torch.empty_like(q)
    shape = _ops._int64_array(q.shape)
    if q.device.type == "cpu":
        ptrs = (q.data_ptr(), k.data_ptr(), v.data_ptr())
        if fresh:
            def run():
                fresh_out = torch.empty_like(q)
                _ops._advise_huge_pages(fresh_out)
                lib.dilattn_run_host(call, *ptrs, shape, None, None, None, 0,
                                     fresh_out.data_ptr())
            return run
        return lambda: lib.dilattn_run_host(call, *ptrs, shape, None, None,
                                            None, 0, out.data_ptr())
    stream = torch.cuda.current_stream().cuda_stream
    dtype = _ops._CUDA_DTYPES[q.dtype]
    return lambda: lib.dilattn_run_cuda(
        call, dtype, q.data_ptr(), k.data_ptr(), v.data_ptr(), shape, 0, 0,
        None, 0, out.data_ptr(), stream)


def measure(shape, segments, dilations, dtype, device, reps):
    b, n, h, d = shape
    q, k, v = (torch.randn(b, n, h, d, device=device).to(dtype)
               for _ in range(3))
    module = DilatedAttention(segments, dilations)
    with torch.no_grad():
        results = timed({
            "raw": raw_call(q, k, v, segments, dilations),
            "fresh": raw_call(q, k, v, segments, dilations,
                              fresh=device == "cpu"),
            "func": lambda: dilated_attention(q, k, v, segments, dilations),
            "module": lambda: module(q, k, v),
        }, reps, device)
    return results


def tool_median_ms(tool, name, device, reps):
    b, n, h, d, segments, dilations, dtype = CONFIGS[name]
    dtype_name = {torch.float32: "f32", torch.bfloat16: "bf16",
                  torch.float16: "f16"}[dtype]
    args = [tool, f"--segment-lengths={','.join(map(str, segments))}",
            f"--dilation-rates={','.join(map(str, dilations))}",
            f"--shape={b},{n},{h},{d}", f"--bench={reps}",
            f"--target={device}", f"--dtype={dtype_name}"]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["median_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dilattn-run",
                        default=os.path.join(ROOT, "build", "bin",
                                             "dilattn-run"))
    parser.add_argument("--reps", type=int, default=0,
                        help="repetitions on C1/G1 (default 9 CPU, 50 CUDA)")
    parser.add_argument("--tiny-reps", type=int, default=2000)
    args = parser.parse_args()
    device = args.device
    print(f"dilattn {dilattn.__version__}, library {dilattn.library_path()}, "
          f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")
          + f", {torch.get_num_threads()} torch threads")

    tiny_dtype = torch.float32 if device == "cpu" else torch.bfloat16
    tiny_d = 8 if device == "cpu" else 64
    tiny = measure((1, 16, 1, tiny_d), (16,), (1,), tiny_dtype, device,
                   args.tiny_reps)
    print(f"\nTiny problem (1, 16, 1, {tiny_d}), microseconds per call "
          "(median):")
    print("| raw ctypes call | dilated_attention | DilatedAttention | "
          "added by the package |")
    print("| --- | --- | --- | --- |")
    print(f"| {tiny['raw'] * 1e6:.1f} | {tiny['func'] * 1e6:.1f} | "
          f"{tiny['module'] * 1e6:.1f} | "
          f"{(tiny['module'] - tiny['raw']) * 1e6:.1f} |")

    name = "C1" if device == "cpu" else "G1"
    b, n, h, d, segments, dilations, dtype = CONFIGS[name]
    reps = args.reps or (9 if device == "cpu" else 50)
    big = measure((b, n, h, d), segments, dilations, dtype, device, reps)
    tool = None
    if os.access(args.dilattn_run, os.X_OK):
        tool = tool_median_ms(args.dilattn_run, name, device, reps)
    print(f"\n{name} ({b}, {n}, {h}, {d}) {str(dtype)[6:]}, milliseconds "
          f"(median of {reps}):")
    print("| dilattn-run --bench | raw ctypes call | raw, fresh output | "
          "DilatedAttention | module / raw | module / raw fresh | "
          "module / tool |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ratio = f"{big['module'] * 1e3 / tool:.3f}" if tool else "-"
    print(f"| {f'{tool:.2f}' if tool is not None else '-'} | "
          f"{big['raw'] * 1e3:.2f} | {big['fresh'] * 1e3:.2f} | "
          f"{big['module'] * 1e3:.2f} | {big['module'] / big['raw']:.3f} | "
          f"{big['module'] / big['fresh']:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
