#!/usr/bin/env python3
"""Plots the GPU benchmark: time per config per implementation (log scale),
with BENCHMARKS.md's targets. Reads what scripts/gpu-check brought back
(gpu-bench.jsonl, or peers.jsonl alone).

usage: plot_gpu.py [--out docs/benchmarks-gpu.png] FILE.jsonl [FILE.jsonl ...]

Runs where NumPy and matplotlib are (here: /usr/bin/python3).
"""
import argparse
import json
import os
import sys

IMPLS = [  # (impl, label, colour)
    ("dilattn", "dilattn", "#d62728"),
    ("seed_sdpa", "PyTorch seed: gather + SDPA + scatter", "#1f77b4"),
    ("seed_sdpa_orignorm", "seed + original extra normalisation", "#9ecae1"),
    ("pregathered_sdpa", "SDPA on pre-gathered pieces (no gather/scatter)",
     "#2ca02c"),
    ("flex", "FlexAttention, dilated mask_mod (compiled)", "#9467bd"),
    ("dense_sdpa", "dense SDPA over all N (what dilation avoids)", "#7f7f7f"),
]
CONFIGS = ["G1", "G2", "G3", "G4"]
CONFIG_LABELS = {"G1": "G1\nN=32k D=128", "G2": "G2\nN=32k D=64",
                 "G3": "G3\nN=32k causal", "G4": "G4\nN=128k D=128"}
TARGET_MS = {"G1": 0.40, "G4": 1.55}


def load(paths):
    rows = {}
    missing = {}
    meta = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("gpu") and not meta:
                    meta = r
                impl = r.get("impl") or r.get("peer")
                if r.get("phase") == "check":
                    continue
                if r.get("status") != "ok":
                    if r.get("config") in CONFIGS and r.get("status"):
                        missing[(r["config"], impl)] = \
                            str(r["status"]).split(":")[0]
                    continue
                ms = r.get("median_ms")
                if r.get("config") in CONFIGS and isinstance(ms, (int, float)) \
                        and ms > 0:
                    rows[(r["config"], impl)] = r
    for key in rows:
        missing.pop(key, None)
    return rows, missing, meta


def plot(rows, missing, meta, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = [c for c in CONFIGS if any(k[0] == c for k in rows)]
    impls = [i for i in IMPLS if any(k[1] == i[0] for k in rows)]
    if not configs or not impls:
        raise SystemExit("plot_gpu: no timed rows in the input")
    fig, ax = plt.subplots(figsize=(10, 5.2))
    width = 0.8 / len(impls)
    for j, (impl, label, colour) in enumerate(impls):
        xs, ys = [], []
        for c_index, cfg in enumerate(configs):
            r = rows.get((cfg, impl))
            if r is None:
                if (cfg, impl) in missing:
                    ax.annotate(missing[(cfg, impl)],
                                (c_index - 0.4 + width * (j + 0.5), 0.0),
                                xycoords=("data", "axes fraction"),
                                xytext=(0, 3), textcoords="offset points",
                                ha="center", va="bottom", fontsize=6.5,
                                rotation=90, color=colour)
                continue
            xs.append(c_index - 0.4 + width * (j + 0.5))
            ys.append(r["median_ms"])
        bars = ax.bar(xs, ys, width * 0.92, label=label, color=colour,
                      edgecolor="black", linewidth=0.4, zorder=3)
        for bar, y in zip(bars, ys):
            ax.annotate("%.3g" % y, (bar.get_x() + bar.get_width() / 2, y),
                        xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=6.5, rotation=90)
    target_labelled = False
    for c_index, cfg in enumerate(configs):
        if cfg in TARGET_MS:
            ax.hlines(TARGET_MS[cfg], c_index - 0.45, c_index + 0.45,
                      colors="black", linestyles="--", linewidth=1.2,
                      zorder=4, label=None if target_labelled else
                      "target (BENCHMARKS.md)")
            target_labelled = True
    ax.set_yscale("log")
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels([CONFIG_LABELS.get(c, c) for c in configs])
    ax.set_ylabel("time per call, ms (median, log scale)")
    ax.grid(axis="y", which="both", alpha=0.3, zorder=0)
    lo = min(r["median_ms"] for r in rows.values())
    hi = max(r["median_ms"] for r in rows.values())
    ax.set_ylim(lo / 2.5, hi * 6)
    title = "Dilated attention forward, bf16, B=1 H=16, segments " \
            "2048..16384, dilations 1..8 (grouped)"
    sub = ", ".join(x for x in (
        meta.get("gpu"), "driver %s" % meta["driver"] if meta.get("driver")
        else None, "torch %s" % meta["torch"] if meta.get("torch") else None,
        (meta.get("date") or "")[:10] or None) if x)
    ax.set_title(title + ("\n" + sub if sub else ""), fontsize=10)
    ax.legend(fontsize=7.5, loc="upper left", ncol=2, framealpha=0.9)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(out, dpi=130)
    print("wrote %s (%d configs, %d implementations)" % (out, len(configs),
                                                         len(impls)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "docs",
        "benchmarks-gpu.png"))
    args = parser.parse_args(argv)
    rows, missing, meta = load(args.inputs)
    plot(rows, missing, meta, os.path.normpath(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
