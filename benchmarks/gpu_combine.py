#!/usr/bin/env python3
"""Combines dilattn's GPU benchmark runs (scripts/gpu-check) with the PyTorch
peers (benchmarks/gpu_peers.py) into one JSON-lines file and prints the table.

usage: gpu_combine.py --dilattn-dir DIR --peers PEERS.jsonl --out OUT.jsonl

DIR holds what scripts/gpu-check wrote: dilattn_<G>.bench.txt (the
--bench output; its last JSON line is read), dilattn_<G>.check.txt (the
--check output), dilattn_cold.txt / dilattn_diskhit.txt (first compile with an
empty cache, then a disk hit in a new process), each with a .rc file holding
the exit status. Standard library only.

Rows of OUT: {"config", "impl", "status", "median_ms", "tflops", ...}; impl is
"dilattn", "dilattn_jit" (compile and cache times) or a peer name
(seed_sdpa, seed_sdpa_orignorm, pregathered_sdpa, flex, dense_sdpa,
dilattn_xcheck), peers' fields as gpu_peers.py wrote them.
"""
import argparse
import json
import os
import re
import sys

CONFIG_ORDER = ["G1", "G2", "G3", "G4"]
SHAPES = {"G1": (1, 32768, 16, 128), "G2": (1, 32768, 16, 64),
          "G3": (1, 32768, 16, 128), "G4": (1, 131072, 16, 128)}
TARGET_MS = {"G1": 0.40, "G4": 1.55}
PEERS = [("seed_sdpa", "seed"), ("seed_sdpa_orignorm", "seed+norm"),
         ("pregathered_sdpa", "pregath"), ("flex", "flex"),
         ("dense_sdpa", "dense")]
COLD_TARGET_MS = 3000.0
DISK_TARGET_MS = 50.0


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def read_rc(path):
    text = read(path)
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def last_json(text):
    for line in reversed((text or "").splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def last_error(text):
    for line in reversed((text or "").splitlines()):
        if line.startswith("error:"):
            return line
    lines = [l for l in (text or "").splitlines() if l.strip()]
    return lines[-1] if lines else "no output"


def dilattn_rows(directory):
    rows = []
    for cfg in CONFIG_ORDER:
        base = os.path.join(directory, "dilattn_%s" % cfg)
        bench = read(base + ".bench.txt")
        check = read(base + ".check.txt")
        if bench is None and check is None:
            continue
        row = {"config": cfg, "impl": "dilattn", "peer": "dilattn",
               "target_ms": TARGET_MS.get(cfg)}
        rc = read_rc(base + ".bench.rc")
        result = last_json(bench)
        if result is not None and rc == 0:
            row["status"] = "ok"
            row.update({k: v for k, v in result.items() if k != "status"})
            if isinstance(result.get("gflops"), (int, float)):
                row["tflops"] = result["gflops"] / 1000.0
            b, n, h, d = SHAPES[cfg]
            io = 4 * b * n * h * d * 2  # Q, K, V and the output, bf16
            if isinstance(result.get("device_peak_bytes"), (int, float)):
                row["peak_ratio"] = result["device_peak_bytes"] / io
        elif bench is None:
            row["status"] = "not run"
        else:
            row["status"] = "failed: exit %s: %s" % (rc, last_error(bench))
        if check is not None:
            crc = read_rc(base + ".check.rc")
            m = re.search(r"max_abs_err=(\S+)\s+rel_err=(\S+)", check)
            if m:
                row["check_max_abs_err"] = float(m.group(1))
                row["check_rel_err"] = float(m.group(2))
            row["check"] = ("pass" if crc == 0 else
                            "timeout" if crc in (124, 137) else
                            "fail (exit %s)" % crc)
        rows.append(row)
    jit = {"config": "G1", "impl": "dilattn_jit", "peer": "dilattn_jit",
           "cold_target_ms": COLD_TARGET_MS, "disk_target_ms": DISK_TARGET_MS}
    any_jit = False
    for tag in ("cold", "diskhit"):
        text = read(os.path.join(directory, "dilattn_%s.txt" % tag))
        if text is None:
            continue
        any_jit = True
        result = last_json(text)
        rc = read_rc(os.path.join(directory, "dilattn_%s.rc" % tag))
        if result is None or rc != 0:
            jit["%s_status" % tag] = "failed: exit %s: %s" % (rc,
                                                             last_error(text))
            continue
        jit["%s_cache" % tag] = result.get("cache")
        if tag == "cold":
            jit["cold_compile_ms"] = result.get("compile_ms")
        else:
            jit["disk_load_ms"] = result.get("load_ms",
                                             result.get("compile_ms"))
        jit["%s_median_ms" % tag] = result.get("median_ms")
    if any_jit:
        jit["status"] = "ok"
        rows.append(jit)
    return rows


def read_jsonl(path):
    rows = []
    text = read(path) if path else None
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def cell_ms(row):
    if row is None:
        return "-"
    if row.get("status") != "ok" or not isinstance(row.get("median_ms"),
                                                   (int, float)):
        status = str(row.get("status", "?"))
        return status.split(":")[0] if status else "?"
    return "%.3f" % row["median_ms"]


def print_table(rows, out=sys.stdout):
    by = {}
    for r in rows:
        if r.get("phase") == "check":
            continue
        by[(r.get("config"), r.get("impl") or r.get("peer"))] = r
    meta = next((r for r in rows if r.get("gpu")), {})
    print(file=out)
    if not by:
        print("GPU benchmark: no results", file=out)
        return
    print("GPU benchmark (bf16, forward) on %s, driver %s, clocks sm %s mem "
          "%s, torch %s, %s" % (meta.get("gpu", "?"), meta.get("driver", "?"),
                               meta.get("clocks_sm", "?"),
                               meta.get("clocks_mem", "?"),
                               meta.get("torch", "?"), meta.get("date", "?")),
          file=out)
    head = "%-3s %9s %7s %7s %-4s %-22s" % ("cfg", "dilattn", "TFLOP/s",
                                             "target", "met", "check")
    for _, short in PEERS:
        head += " %17s" % short
    print("check: chk = dilattn-run --check (CPU float64 reference), xc = "
          "gpu_peers.py's full-size float64 cross-check; ! = over 1e-2",
          file=out)
    print(head + "   (ms; peer/dilattn)", file=out)
    for cfg in CONFIG_ORDER:
        d = by.get((cfg, "dilattn"))
        peers = [by.get((cfg, p)) for p, _ in PEERS]
        if d is None and not any(peers):
            continue
        ms = d.get("median_ms") if d and d.get("status") == "ok" else None
        target = TARGET_MS.get(cfg)
        met = "-" if target is None or ms is None else (
            "yes" if ms <= target else "NO")
        checks = []
        if d and d.get("check"):
            checks.append("chk:%s" % (
                d["check"].split(" ")[0] if d.get("check_rel_err") is None
                else "%.1e%s" % (d["check_rel_err"], "" if d["check"] == "pass"
                                 else "!")))
        x = by.get((cfg, "dilattn_xcheck"))
        if x and x.get("rel_err") is not None:
            checks.append("xc:%.1e%s" % (x["rel_err"], "" if
                                         x.get("check") == "pass" else "!"))
        elif x:
            checks.append("xc:" + str(x.get("status", "?")).split(":")[0])
        line = "%-3s %9s %7s %7s %-4s %-22s" % (
            cfg, cell_ms(d) if d else "-",
            "%.0f" % d["tflops"] if d and isinstance(d.get("tflops"),
                                                     (int, float)) else "-",
            "%.2f" % target if target else "-", met,
            " ".join(checks)[:22] or "-")
        for p in peers:
            c = cell_ms(p)
            if ms and p and p.get("status") == "ok" and isinstance(
                    p.get("median_ms"), (int, float)):
                c += " (%.2fx)" % (p["median_ms"] / ms)
            line += " %17s" % c[:17]
        print(line, file=out)
    jit = by.get(("G1", "dilattn_jit"))
    if jit:
        cold = jit.get("cold_compile_ms")
        disk = jit.get("disk_load_ms")
        print("JIT (G1 kernel): cold first compile %s ms (target <= %.0f), "
              "disk-cache load in a new process %s ms (target <= %.0f)%s" % (
                  "%.0f" % cold if isinstance(cold, (int, float)) else
                  jit.get("cold_status", "-"), COLD_TARGET_MS,
                  "%.1f" % disk if isinstance(disk, (int, float)) else
                  jit.get("diskhit_status", "-"), DISK_TARGET_MS,
                  "" if jit.get("diskhit_cache") in (None, "hit") else
                  " [disk run reported cache=%s]" % jit.get("diskhit_cache")),
              file=out)
    peaks = []
    for cfg in CONFIG_ORDER:
        d = by.get((cfg, "dilattn"))
        s = by.get((cfg, "seed_sdpa"))
        parts = []
        if d and isinstance(d.get("peak_ratio"), (int, float)):
            parts.append("dilattn %.3fx" % d["peak_ratio"])
        if s and isinstance(s.get("peak_ratio"), (int, float)):
            parts.append("seed %.3fx" % s["peak_ratio"])
        if parts:
            peaks.append("%s %s" % (cfg, ", ".join(parts)))
    if peaks:
        print("peak device memory / (inputs + output) (target <= 1.02x): " +
              "; ".join(peaks), file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dilattn-dir", default=None)
    parser.add_argument("--peers", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    rows = dilattn_rows(args.dilattn_dir) if args.dilattn_dir else []
    peers = read_jsonl(args.peers)
    meta = next((r for r in peers if r.get("gpu")), None)
    if meta:
        keep = ("gpu", "driver", "clocks_sm", "clocks_mem", "torch", "cuda",
                "triton", "date")
        for r in rows:
            for k in keep:
                if k in meta and k not in r:
                    r[k] = meta[k]
    rows += peers
    with open(args.out, "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    print_table(rows)
    print("wrote %d rows to %s" % (len(rows), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
