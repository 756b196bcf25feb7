"""``python ray_lost_node.py TMPDIR``: a trial on a Ray node that is lost, then one on a new node.

Run as a subprocess (with ``tests/raytools.subprocess_env``) because it builds its own two-node
cluster on this machine with :class:`ray.cluster_utils.Cluster`: a head node without CPUs (where
the driver is connected) and a worker node with one CPU, which is removed while its trial runs.
Prints one JSON line with what the executor reported.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every node on 127.0.0.1 only

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ray
from ray.cluster_utils import Cluster

from execution.support import ScriptedRunner, run_until_done, wait_for_start
from retiarii.execution.events import TrialFailed
from retiarii.execution.ray_executor import RayExecutor


def main(tmp: str) -> None:
    os.makedirs(os.path.join(tmp, "ray"), exist_ok=True)  # where Cluster notes its address
    node_args = {"node_ip_address": "127.0.0.1", "include_dashboard": False, "temp_dir": tmp}
    cluster = Cluster(initialize_head=True, head_node_args={**node_args, "num_cpus": 0})
    worker = cluster.add_node(num_cpus=1, **node_args)
    ray.init(address=cluster.address)
    report: dict[str, object] = {}
    try:
        with RayExecutor(1, start_timeout=60) as executor:
            executor.start(ScriptedRunner())
            executor.submit(1, {"sleep": 60, "print": "on the lost node"}, f"{tmp}/trials/1")
            wait_for_start(executor, 1)
            time.sleep(0.5)
            cluster.remove_node(worker, allow_graceful=False)
            lost = run_until_done(executor, {1}, timeout=60)[1][-1]
            assert isinstance(lost, TrialFailed)
            report["lost"] = {"reason": lost.reason, "error": lost.error}
            cluster.add_node(num_cpus=1, **node_args)
            executor.submit(2, {"final": 0.5, "print": "on the new node"}, f"{tmp}/trials/2")
            events = run_until_done(executor, {2}, timeout=120)[2]
            report["next"] = [type(event).__name__ for event in events]
            with open(f"{tmp}/trials/2/trial.log") as log:
                report["next_log"] = log.read()
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
