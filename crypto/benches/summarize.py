#!/usr/bin/env python3
"""Prints the median of every criterion benchmark of the last run, as a Markdown table.

Usage: python3 crypto/benches/summarize.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion).
"""
import json
import os
import sys
from pathlib import Path


def fmt(ns: float) -> str:
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main() -> None:
    default = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print("| benchmark | median | 95% CI of median | throughput |")
    print("|---|---|---|---|")
    for bench in sorted(root.glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())["median"]
        ci = est["confidence_interval"]
        thr = ""
        if meta.get("throughput") and "Bytes" in meta["throughput"]:
            gib = meta["throughput"]["Bytes"] / est["point_estimate"] * 1e9 / 2**30
            thr = f"{gib:.2f} GiB/s"
        print(
            f"| {meta['full_id']} | {fmt(est['point_estimate'])} | "
            f"{fmt(ci['lower_bound'])} – {fmt(ci['upper_bound'])} | {thr} |"
        )


if __name__ == "__main__":
    main()
