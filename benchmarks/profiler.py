"""Profilers vs building and counting: time per sample and exactness, side by side in one run.

For each hub space at its default (full) configuration — NAS-Bench-201 on 32x32 inputs, the
ImageNet spaces (ProxylessNAS, MobileNetV3Space, ShuffleNetSpace) on 224x224 — and the same
random samples:

* **params**: ``NumParamsProfiler.profile(sample)`` vs ``space.build(sample)`` + counting
  parameters (what a ``model_filter`` had to do before);
* **FLOPs**: ``FlopsProfiler.profile(sample)`` vs building the model and running it once under
  ``torch.utils.flop_counter.FlopCounterMode`` (whose count / 2 is our multiply-add convention);
* **exactness**: the number of samples where the two differ (goal: 0).

Profile times are the mean over *all* samples, first ones included (the profilers fill their
memo tables as they go), timed in one pass; the baseline then runs on the same samples, timed,
and every value is compared. The analysis of the space (once per profiler, including a warm-up
profile) is reported apart.

Usage::

    python benchmarks/profiler.py [--samples 1000] [--spaces NasBench201 ...] [--name profiler]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_line, write_results

SPACE_INPUTS = {
    "NasBench201": 32,
    "MobileNetV3Space": 224,
    "ProxylessNAS": 224,
    "ShuffleNetSpace": 224,
}


def measure(name: str, samples: int, seed: int = 0) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import retiarii.hub.pytorch  # noqa: F401
    from retiarii.hub.pytorch.registry import SPACES
    from retiarii.nn.pytorch import ModelSpace
    from retiarii.profiler import FlopsProfiler, NumParamsProfiler

    entry = SPACES[name]
    space = ModelSpace(entry.factory())
    res = SPACE_INPUTS[name]
    x = torch.zeros(1, 3, res, res)
    start = time.perf_counter()
    params = NumParamsProfiler(space)
    analyse_params = time.perf_counter() - start
    start = time.perf_counter()
    flops = FlopsProfiler(space, x)
    analyse_flops = time.perf_counter() - start
    import random

    rng = random.Random(seed)
    drawn = [space.random(rng) for _ in range(samples)]
    t_params, t_flops, t_build, t_count = [], [], [], []
    wrong_params = wrong_flops = 0
    profiled = []
    for sample in drawn:  # the profilers first, one pass (not interleaved with model builds)
        start = time.perf_counter()
        p = params.profile(sample)
        t_params.append(time.perf_counter() - start)
        start = time.perf_counter()
        f = flops.profile(sample)
        t_flops.append(time.perf_counter() - start)
        profiled.append((p, f))
    for sample, (p, f) in zip(drawn, profiled):  # then the baseline, checking every value
        start = time.perf_counter()
        model = space.build(sample)
        true_params = sum(q.numel() for q in model.parameters())
        t_build.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        t_count.append(time.perf_counter() - start)
        true_flops = counter.get_total_flops() // 2
        wrong_params += p != true_params
        wrong_flops += f != true_flops
    mean = statistics.fmean
    params_baseline = mean(t_build)
    flops_baseline = mean(t_build) + mean(t_count)
    return {
        "space": name,
        "input": f"1x3x{res}x{res}",
        "samples": samples,
        "size": space.size,
        "analyse_params_s": round(analyse_params, 3),
        "analyse_flops_s": round(analyse_flops, 3),
        "params_profile_ms": round(mean(t_params) * 1e3, 4),
        "params_profile_median_ms": round(statistics.median(t_params) * 1e3, 4),
        "build_count_params_ms": round(params_baseline * 1e3, 3),
        "params_speedup": round(params_baseline / mean(t_params), 1),
        "flops_profile_ms": round(mean(t_flops) * 1e3, 4),
        "flops_profile_median_ms": round(statistics.median(t_flops) * 1e3, 4),
        "build_flopcounter_ms": round(flops_baseline * 1e3, 3),
        "flops_speedup": round(flops_baseline / mean(t_flops), 1),
        "params_mismatches": wrong_params,
        "flops_mismatches": wrong_flops,
        "fallback_modules": ";".join(flops.fallbacks + params.fallbacks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--spaces", nargs="*", default=list(SPACE_INPUTS))
    parser.add_argument("--name", default="profiler")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rows = []
    for name in args.spaces:
        row = measure(name, args.samples)
        print(row, flush=True)
        rows.append(row)
    lines = [
        "# Profilers vs build-and-count",
        "",
        f"Machine: {machine_line()}; torch threads: 1; {args.samples} random samples per space "
        "(seed 0), the same for every column. Times: mean ms per sample (first samples "
        "included); speed-up = baseline mean / profiler mean. FLOPs = multiply-adds "
        "(FlopCounterMode / 2).",
        "",
        "| space | input | params: profile | build + count | speed-up | FLOPs: profile "
        "| build + FlopCounterMode | speed-up | mismatches (params / FLOPs) | analysis (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['space']} | {r['input']} | {r['params_profile_ms']} | "
            f"{r['build_count_params_ms']} | {r['params_speedup']}x | {r['flops_profile_ms']} | "
            f"{r['build_flopcounter_ms']} | {r['flops_speedup']}x | "
            f"{r['params_mismatches']} / {r['flops_mismatches']} of {r['samples']} | "
            f"{r['analyse_params_s']} + {r['analyse_flops_s']} |"
        )
    lines += ["", "Goal: 0 mismatches, and >= 100x faster.", ""]
    csv_path, md_path = write_results(args.name, rows, "\n".join(lines))
    print(f"wrote {csv_path} and {md_path}")


if __name__ == "__main__":
    main()
