"""The dashboard under load, measured side by side in one run.

Part 1, **throughput**: the same experiment of trivial trials (``GridSearch`` over a large
``ValueChoice``, a ``FunctionalEvaluator`` that reports one number, ``--concurrency`` workers)
runs for ``--seconds`` after a warm-up, and the trials that ended in that window are counted:

* ``none``: no dashboard;
* ``poll1``: ``exp.run(config, port)`` with one browser-like poller (what the charts page asks
  every 2 s: ``/api/experiment``, then the trials and the curves since its cursors);
* ``poll50``: the same with 50 concurrent pollers;
* ``legacy50``: the dashboard served from a thread of the driver (as before) with 50 pollers
  re-fetching everything every 2 s (``/api/trials`` and ``/api/intermediates`` whole): roughly
  what the dashboard did before incremental polls and the separate process.

The pollers run in a separate process (threads of ``http.client``, 127.0.0.1 only), so that they
do not take the driver's interpreter; their number and their time are bounded.

Part 2, **one poll of a large experiment**: a store of ``--big-trials`` finished trials with
``--metric-keys``-key final metric dicts and a few intermediate points each, written directly
with :class:`retiarii.store.ExperimentStore`, served by the dashboard's separate process. For each
request (or poll: several requests) it reports the bytes sent and the server's CPU time per poll
(the serving process's user+system time over ``--repeat`` polls, divided).

Usage::

    python benchmarks/dashboard_load.py [--seconds 15] [--big-trials 10000] [--metric-keys 1000]

Writes ``benchmarks/results/dashboard_load-<machine>.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

try:
    from _common import machine_line, write_results
except ImportError:  # run as a module
    from benchmarks._common import machine_line, write_results

POLL_S = 2.0


# ------------------------------------------------------------------------------ pollers


def _get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path, headers={"Host": "127.0.0.1"})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {body[:200]!r}")
    return body


def poller(port: int, mode: str, stop_at: float, counts: list[int]) -> None:
    """One browser-like client: every 2 s the charts page's requests, until ``stop_at``."""
    time.sleep(random.uniform(0, POLL_S))  # clients do not poll in lockstep
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    trial_cursor: float = 0
    curve_cursor = 0
    while time.time() < stop_at:
        began = time.time()
        try:
            _get(conn, "/api/experiment")
            if mode == "legacy":
                _get(conn, "/api/trials")
                _get(conn, "/api/intermediates")
            else:
                trial_cursor = json.loads(_get(conn, f"/api/trials?since={trial_cursor}"))["cursor"]
                curve_cursor = json.loads(_get(conn, f"/api/intermediates?since={curve_cursor}"))[
                    "cursor"
                ]
            counts[0] += 1
        except (OSError, http.client.HTTPException, RuntimeError):  # e.g. at shutdown
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        time.sleep(max(0.0, POLL_S - (time.time() - began)))
    conn.close()


def run_pollers(port: int, n: int, mode: str, seconds: float) -> None:
    """The ``--pollers`` entry point (in its own process): ``n`` pollers for ``seconds``."""
    os.nice(19)  # the clients stand in for browsers elsewhere: their CPU is not the server's
    stop_at = time.time() + seconds
    counts = [[0] for _ in range(n)]
    threads = [
        threading.Thread(target=poller, args=(port, mode, stop_at, c), daemon=True) for c in counts
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    print(sum(c[0] for c in counts))


# ------------------------------------------------------------------------------ part 1


def tiny_evaluation(model_cls: Any) -> None:
    import retiarii

    retiarii.report_intermediate_result(random.random())
    retiarii.report_final_result(random.random())


def throughput(case: str, seconds: float, warm_s: float, concurrency: int, root: str) -> dict:
    """Trials per second of a trivial experiment over ``seconds`` after ``warm_s``."""
    import logging

    import retiarii.nn.pytorch as nn
    import retiarii.strategy as strategy
    from retiarii import model_wrapper
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

    size = 10**5  # five labels of ten values: more trials than any window runs

    @model_wrapper
    class TinySpace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.ValueChoice(list(range(10)), label="a")
            self.b = nn.ValueChoice(list(range(10)), label="b")
            self.c = nn.ValueChoice(list(range(10)), label="c")
            self.d = nn.ValueChoice(list(range(10)), label="d")
            self.e = nn.ValueChoice(list(range(10)), label="e")

    logging.getLogger("retiarii").setLevel(logging.WARNING)
    exp = RetiariiExperiment(
        TinySpace(), FunctionalEvaluator(tiny_evaluation), None, strategy.GridSearch()
    )
    if case == "legacy50":  # the dashboard in a thread of the driver, as it was served before

        def in_thread(self: Any, port: int, host: str = "127.0.0.1") -> None:
            from retiarii.dashboard import serve_dashboard

            self._dashboard = serve_dashboard(
                self.experiment_dir, host=host, port=port, stop=self._stop.set
            )

        exp._start_dashboard = in_thread.__get__(exp)  # type: ignore[method-assign]
    config = RetiariiExeConfig("local")
    config.trial_concurrency = concurrency
    config.max_trial_number = size
    config.experiment_working_directory = root
    port = None if case == "none" else 0
    runner = threading.Thread(target=exp.run, args=(config, port), daemon=True)
    begin = time.time()
    runner.start()
    while exp._dashboard is None and case != "none":
        time.sleep(0.01)
    n_pollers = {"none": 0, "poll1": 1, "poll50": 50, "legacy50": 50}[case]
    pollers = None
    if n_pollers:
        port_number = exp._dashboard.port
        mode = "legacy" if case == "legacy50" else "incremental"
        pollers = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--pollers",
                str(port_number),
                str(n_pollers),
                mode,
                str(warm_s + seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    time.sleep(warm_s)
    server_pid = getattr(exp._dashboard, "pid", None)
    cpu0 = _cpu_s(server_pid) if server_pid else 0.0
    time.sleep(seconds)
    server_cpu = (_cpu_s(server_pid) - cpu0) if server_pid else float("nan")
    exp.stop()
    runner.join(120)
    polls = int(pollers.communicate(timeout=120)[0].strip() or 0) if pollers else 0
    window = (begin + warm_s, begin + warm_s + seconds)
    ended = [t.ended_at for t in exp.store.trials() if t.ended_at is not None]
    exp.close()
    done = sum(1 for t in ended if window[0] <= t < window[1])
    return {
        "case": case,
        "pollers": n_pollers,
        "seconds": seconds,
        "trials": done,
        "trials_per_s": round(done / seconds, 1),
        "polls": polls,
        "server_cpu_share": round(server_cpu / seconds, 3),
    }


# ------------------------------------------------------------------------------ part 2


def build_big_store(directory: Path, n_trials: int, metric_keys: int, points: int) -> None:
    """A finished experiment of ``n_trials`` with ``metric_keys``-key final metric dicts."""
    from retiarii.store import ExperimentStore

    store = ExperimentStore(directory / "experiment.db")
    space = {f"l{i}": {"_type": "choice", "_value": list(range(8))} for i in range(4)}
    store.init_experiment("dashboard-load", {"max_trial_number": n_trials}, space)
    store.set_status("running")
    rng = random.Random(0)
    conn = store._connection()  # one transaction per 500 trials: writing it would take minutes
    conn.execute("BEGIN")
    t0 = time.time() - n_trials
    for i in range(1, n_trials + 1):
        sample = {f"l{j}": rng.randrange(8) for j in range(4)}
        final = {"default": rng.random(), **{f"m{k}": rng.random() for k in range(metric_keys)}}
        conn.execute(
            "INSERT INTO trials (id, sample, status, created_at, started_at) "
            "VALUES (?, ?, 'RUNNING', ?, ?)",
            (i, json.dumps(sample), t0 + i, t0 + i),
        )
        conn.executemany(
            "INSERT INTO intermediate VALUES (?, ?, ?, ?, ?)",
            [(i, s, json.dumps(v := rng.random()), v, t0 + i) for s in range(points)],
        )
        conn.execute(
            "UPDATE trials SET status = 'SUCCEEDED', final = ?, final_value = ?, ended_at = ? "
            "WHERE id = ?",
            (json.dumps(final), final["default"], t0 + i + 0.5, i),
        )
        if i % 500 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    conn.execute("COMMIT")
    store.set_status("done")
    store.close()


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def poll_costs(directory: Path, repeat: int) -> list[dict[str, Any]]:
    """Bytes and server CPU per poll of the big store, for each kind of poll."""
    from retiarii.dashboard import serve_dashboard

    server = serve_dashboard(directory, port=0, separate_process=True)
    pid = server.pid  # type: ignore[union-attr]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    first = json.loads(_get(conn, "/api/trials?since=0"))
    trial_cursor = first["cursor"]
    curve_cursor = json.loads(_get(conn, "/api/intermediates?since=0"))["cursor"]
    table = "/api/trials/table?q=&status=&sort=metric&desc=1&offset=0&limit=100"
    table_cursor = json.loads(_get(conn, table))["cursor"]
    from urllib.parse import quote

    polls = {
        "steady poll (charts page: experiment + trials and curves since cursors)": [
            "/api/experiment",
            f"/api/trials?since={trial_cursor}",
            f"/api/intermediates?since={curve_cursor}",
        ],
        "steady poll (trials page, >1000 trials: experiment + unchanged table page)": [
            "/api/experiment",
            f"{table}&cursor={quote(table_cursor)}",
        ],
        "first load: every trial as slim rows (/api/trials?since=0)": ["/api/trials?since=0"],
        "first load: every curve (/api/intermediates?since=0)": ["/api/intermediates?since=0"],
        "table page, filtered and sorted (metric>0.5 l0=3, by metric)": [
            "/api/trials/table?q=metric%3E0.5%20l0%3D3&sort=metric&desc=1&limit=100"
        ],
        "trial page (one trial with its full metric dict)": [f"/api/trials/{first['total'] // 2}"],
    }
    rows = []
    for name, paths in polls.items():
        n = repeat if "steady" in name else max(1, repeat // 10)
        size = sum(len(_get(conn, p)) for p in paths)  # warm
        cpu0 = _cpu_s(pid)
        wall0 = time.perf_counter()
        for _ in range(n):
            for p in paths:
                _get(conn, p)
        cpu = (_cpu_s(pid) - cpu0) / n
        wall = (time.perf_counter() - wall0) / n
        rows.append(
            {
                "poll": name,
                "requests": len(paths),
                "bytes": size,
                "server_cpu_ms": round(1000 * cpu, 2),
                "wall_ms": round(1000 * wall, 2),
                "repeats": n,
            }
        )
    conn.close()
    server.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warm", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--big-trials", type=int, default=10_000)
    parser.add_argument("--metric-keys", type=int, default=1000)
    parser.add_argument("--points", type=int, default=20, help="intermediate points per trial")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--skip", nargs="*", default=[], choices=["throughput", "polls"])
    args = parser.parse_args()

    throughput_rows: list[dict[str, Any]] = []
    if "throughput" not in args.skip:
        with tempfile.TemporaryDirectory() as root:
            for case in ("none", "poll1", "poll50", "legacy50"):
                row = throughput(case, args.seconds, args.warm, args.concurrency, root)
                print(row, flush=True)
                throughput_rows.append(row)
        base = throughput_rows[0]["trials_per_s"] or 1.0
        for row in throughput_rows:
            row["vs_none"] = round(row["trials_per_s"] / base, 3)

    poll_rows: list[dict[str, Any]] = []
    if "polls" not in args.skip:
        with tempfile.TemporaryDirectory() as root:
            t = time.time()
            build_big_store(Path(root), args.big_trials, args.metric_keys, args.points)
            db_mb = (Path(root) / "experiment.db").stat().st_size / 2**20
            print(f"built {args.big_trials} trials in {time.time() - t:.0f}s ({db_mb:.0f} MB)")
            poll_rows = poll_costs(Path(root), args.repeat)
            for row in poll_rows:
                print(row, flush=True)

    command = "python benchmarks/dashboard_load.py " + " ".join(sys.argv[1:])
    lines = [
        "# The dashboard under load",
        "",
        f"`{command.strip()}`",
        "",
        f"Machine: {machine_line()}, {platform.platform()}.",
        "",
    ]
    csv_rows: list[dict[str, object]] = []
    if throughput_rows:
        lines += [
            f"## Trial throughput ({args.concurrency} workers, trivial trials, "
            f"{args.seconds:g} s after {args.warm:g} s of warm-up)",
            "",
            "| case | pollers | trials | trials/s | vs none | polls answered | server CPU (cores) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in throughput_rows:
            lines.append(
                f"| {r['case']} | {r['pollers']} | {r['trials']} | {r['trials_per_s']} | "
                f"{r['vs_none']} | {r['polls']} | {r['server_cpu_share']} |"
            )
            csv_rows.append({"part": "throughput", "name": r["case"], **_flat(r)})
        lines += [
            "",
            "- **none**: no dashboard. **poll1** / **poll50**: `exp.run(config, port)` (the "
            "dashboard in its own process) with 1 / 50 clients polling every 2 s as the charts "
            "page does (incremental). **legacy50**: the dashboard in a thread of the driver and 50 "
            "clients re-fetching every trial and curve every 2 s (the old way, for comparison).",
            "",
        ]
    if poll_rows:
        lines += [
            f"## One poll of {args.big_trials} finished trials with {args.metric_keys}-key "
            f"metric dicts ({args.points} intermediate points each)",
            "",
            "| poll | requests | bytes | server CPU ms | wall ms |",
            "|---|---|---|---|---|",
        ]
        for r in poll_rows:
            lines.append(
                f"| {r['poll']} | {r['requests']} | {r['bytes']} | {r['server_cpu_ms']} | "
                f"{r['wall_ms']} |"
            )
            csv_rows.append({"part": "poll", "name": r["poll"], **_flat(r)})
        lines += [
            "",
            "Server CPU: user+system time of the dashboard's process per poll (all its "
            "requests), averaged over the repeats (the kernel counts it in 10 ms ticks, so "
            "single numbers are coarse); bytes: the response bodies. The machine is shared: "
            "compare rows of one run, not runs.",
            "",
        ]
    if csv_rows:
        keys = sorted({k for r in csv_rows for k in r})
        csv_rows = [{k: r.get(k, "") for k in keys} for r in csv_rows]
        csv_path, md_path = write_results("dashboard_load", csv_rows, "\n".join(lines))
        print(f"wrote {csv_path} and {md_path}")


def _flat(row: dict[str, Any]) -> dict[str, object]:
    return {k: v for k, v in row.items() if k not in ("case", "poll")}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--pollers":
        run_pollers(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        main()
