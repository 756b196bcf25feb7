"""Every registered hub space and published architecture: size, build times, params and FLOPs.

Generic over ``retiarii.hub.pytorch.registry.SPACES`` and ``ARCHITECTURES``: a space registered
later is measured without touching this script. Per space, built with its default arguments (the
paper's configuration; ``--test-config`` uses the small configuration of the registry test):

* ``size`` — number of samples (exact; constraints such as NAS-Bench-101's edge limit are not
  subtracted) and number of labels;
* ``supernet_build_ms`` — ``Space()``: the whole model space, every candidate built (median of
  ``--repeats`` builds);
* ``sample_build_ms`` — ``ModelSpace(space).build(sample)``: a random sample built directly
  inside ``fixed_arch`` (what a multi-trial trial does), ``sample_freeze_ms`` — ``freeze(sample)``
  of the built supernet (a deep copy, frozen): medians over ``--build-samples`` random samples
  (seeds 0..K-1), one build and one freeze each;
* params and MACs over ``--samples`` random samples (seeds 0..N-1): min / median / max, from the
  analytic profilers (``retiarii.profiler.NumParamsProfiler``/``FlopsProfiler``: shapes on
  the meta device, no weights; milliseconds a sample, but 1-2 s for the NDS spaces, whose freeze
  rebuilds the network, see ``profile_s``). They are exact: for each of the K built samples the script checks that they equal the built model's
  parameter count and its ``FlopCounterMode`` MACs, and stops if one differs.

MACs: ``torch.utils.flop_counter.FlopCounterMode`` over one eval-mode forward of a batch of 1;
it counts matrix multiplications and convolutions (attention's matmuls included; not BatchNorm,
pooling, activations or softmax) as 2 FLOPs per multiply-add, and we report
**multiply-adds = FLOPs / 2** — the convention of the papers' "FLOPs" (AutoFormer's 1.3G for
tiny, MobileNet's 300M, ...) and of ``FlopsProfiler``. Per published architecture: parameters ours
vs the paper's, and MACs.

Times use one torch thread.

Usage: python benchmarks/hub.py [--samples 100] [--build-samples 5] [--repeats 3]
[--spaces NAME ...] [--test-config]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn as tnn
from torch.utils.flop_counter import FlopCounterMode

import retiarii
from retiarii.hub.pytorch.registry import ARCHITECTURES, SPACES, ArchitectureEntry, SpaceEntry
from retiarii.profiler import FlopsProfiler, NumParamsProfiler

try:
    from _common import machine_line, write_results
except ImportError:  # run as a module
    from benchmarks._common import machine_line, write_results


def n_params(model: tnn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs(model: tnn.Module, input_size: Sequence[int]) -> int:
    """Multiply-adds of one eval-mode forward of a batch of 1 (FlopCounterMode's FLOPs / 2)."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, *input_size))
    return counter.get_total_flops() // 2


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def _timed_ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def measure_space(
    entry: SpaceEntry, samples: int, build_samples: int, repeats: int, test_config: bool
) -> dict[str, object]:
    kwargs = dict(entry.test_kwargs) if test_config else {}
    input_size = entry.input_size if test_config else (entry.full_input_size or entry.input_size)
    build_ms = median_ms(lambda: entry.factory(**kwargs), repeats)
    space = retiarii.ModelSpace(entry.factory(**kwargs))
    start = time.perf_counter()  # the profilers' one-time analysis, then N samples
    count_params = NumParamsProfiler(space)
    count_macs = FlopsProfiler(space, torch.zeros(1, *input_size))
    params, mults = [], []
    for seed in range(samples):
        sample = space.random(seed=seed)
        params.append(count_params.profile(sample) / 1e6)
        mults.append(count_macs.profile(sample) / 1e6)
    profile_s = time.perf_counter() - start
    builds, freezes = [], []
    for seed in range(build_samples):
        sample = space.random(seed=seed)
        ms, model = _timed_ms(partial(space.build, sample))
        builds.append(ms)
        freezes.append(_timed_ms(partial(space.freeze, sample))[0])
        # the profilers' numbers must be the built model's: checked on every built sample
        built = (n_params(model), macs(model, input_size))
        profiled = (count_params.profile(sample), count_macs.profile(sample))
        if built != profiled:
            raise RuntimeError(
                f"{entry.name} seed {seed}: profilers give (params, MACs) {profiled}, "
                f"the built model {built}"
            )
    p_min, p_med, p_max = _spread(params)
    m_min, m_med, m_max = _spread(mults)
    return {
        "space": entry.name,
        "config": "test" if test_config else "default",
        "input": "x".join(map(str, input_size)),
        "size": space.size,
        "labels": len(space.labels),
        "supernet_params_M": round(n_params(space.model) / 1e6, 3),
        "supernet_build_ms": round(build_ms, 1),
        "build_samples": build_samples,
        "sample_build_ms": round(statistics.median(builds), 1) if builds else "",
        "sample_freeze_ms": round(statistics.median(freezes), 1) if freezes else "",
        "samples": samples,
        "profile_s": round(profile_s, 2),
        "params_M_min": round(p_min, 3),
        "params_M_median": round(p_med, 3),
        "params_M_max": round(p_max, 3),
        "MMACs_min": round(m_min, 1),
        "MMACs_median": round(m_med, 1),
        "MMACs_max": round(m_max, 1),
    }


def measure_architecture(entry: ArchitectureEntry) -> dict[str, object]:
    from retiarii.hub.pytorch import load_searched_model

    model = load_searched_model(entry.name)
    ours = n_params(model) / 1e6
    return {
        "architecture": entry.name,
        "input": "x".join(map(str, entry.input_size)),
        "params_M_ours": round(ours, 3),
        "params_M_paper": entry.paper_params,
        "diff_percent": round(100 * (ours - entry.paper_params) / entry.paper_params, 2),
        "MMACs": round(macs(model, entry.input_size) / 1e6, 1),
        "known_gap": entry.params_gap,
        "source": entry.source,
    }


def markdown(
    spaces: list[dict[str, object]],
    archs: list[dict[str, object]],
    command: str,
    wall: float,
) -> str:
    lines = [
        "# Hub: model spaces and published architectures",
        "",
        f"Machine: {machine_line()}; torch threads: 1. Command: `{command}` ({wall:.0f} s).",
        "Times: median ms (supernet build: median of the repeats; sample build and freeze: "
        "median over the K built samples, seeds 0..K-1). MACs = multiply-adds (FlopCounterMode "
        "FLOPs / 2) of one forward, batch 1; convolutions and matmuls only. Params/MACs: min / "
        "median / max over N random samples (seeds 0..N-1) from the analytic profilers "
        "(NumParamsProfiler, FlopsProfiler; checked equal to the built model on the K built "
        "samples); profile: seconds for the profilers' one-time analysis and all N. `size` "
        "ignores constraints (NAS-Bench-101's edge limit).",
        "",
        "| space | config | input | size | labels | supernet params (M) | supernet build | "
        "K | sample build | sample freeze | N | profile (s) | params (M) | MMACs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in spaces:
        lines.append(
            f"| {r['space']} | {r['config']} | {r['input']} | {int(r['size']):.3e} | "  # type: ignore[call-overload]
            f"{r['labels']} | {r['supernet_params_M']} | {r['supernet_build_ms']} | "
            f"{r['build_samples']} | {r['sample_build_ms']} | {r['sample_freeze_ms']} | "
            f"{r['samples']} | {r['profile_s']} | "
            f"{r['params_M_min']} / {r['params_M_median']} / {r['params_M_max']} | "
            f"{r['MMACs_min']} / {r['MMACs_median']} / {r['MMACs_max']} |"
        )
    lines += [
        "",
        "| architecture | input | params ours (M) | paper (M) | diff | MMACs | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in archs:
        note = "known gap (see params_gap)" if a["known_gap"] else ""
        lines.append(
            f"| {a['architecture']} | {a['input']} | {a['params_M_ours']} | "
            f"{a['params_M_paper']} | {a['diff_percent']:+}% | {a['MMACs']} | {note} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100, help="random samples per space")
    parser.add_argument(
        "--build-samples",
        type=int,
        default=5,
        help="random samples built and frozen per space (timed; profilers checked on them)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="supernet builds (median)")
    parser.add_argument("--spaces", nargs="+", default=None, help="default: every space")
    parser.add_argument(
        "--test-config", action="store_true", help="the registry test's small configurations"
    )
    parser.add_argument("--no-architectures", action="store_true")
    parser.add_argument("--name", default="hub", help="results file stem")
    parser.add_argument("--no-write", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    names = args.spaces or sorted(SPACES)
    unknown = [n for n in names if n not in SPACES]
    if unknown:
        parser.error(f"unknown spaces {unknown}; registered: {sorted(SPACES)}")
    torch.set_num_threads(1)
    start = time.time()
    spaces = []
    for name in names:
        print(f"measuring {name} ...", file=sys.stderr)
        spaces.append(
            measure_space(
                SPACES[name], args.samples, args.build_samples, args.repeats, args.test_config
            )
        )
    archs = (
        []
        if args.no_architectures
        else [measure_architecture(ARCHITECTURES[n]) for n in sorted(ARCHITECTURES)]
    )
    wall = time.time() - start
    command = "python benchmarks/hub.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(spaces, archs, command.strip(), wall)
    print(text)
    if not args.no_write:
        rows: list[dict[str, object]] = [{"kind": "space", **r} for r in spaces]
        rows += [{"kind": "architecture", **a} for a in archs]
        fields = list(dict.fromkeys(k for row in rows for k in row))
        rows = [{k: row.get(k, "") for k in fields} for row in rows]
        csv_path, md_path = write_results(args.name, rows, text)
        print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
