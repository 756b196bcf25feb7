"""A user's script, run as ``__main__`` by test_main_script.py (not collected by pytest).

Its runner class lives in ``__main__``, so it can only reach the workers by value.
Usage: ``python main_script.py run|orphan|interrupt TRIAL_ROOT``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

from retiarii.execution import LocalExecutor, TrialFailed, TrialStarted, is_terminal
from retiarii.reporting import report_final_result


class MainRunner:
    def setup(self) -> None:
        self.offset = 100

    def run(self, sample: dict[str, Any], trial_dir: str) -> None:
        if sample.get("raise"):
            raise KeyError("defined in __main__")
        time.sleep(sample.get("sleep", 0))
        report_final_result(self.offset + sample["x"])


def main(mode: str, root: str) -> None:
    # Ctrl-C raises KeyboardInterrupt, as in a terminal, even when the tests run in a background
    # job (whose children start with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with LocalExecutor(2) as executor:
        executor.start(MainRunner())
        if mode == "run":
            executor.submit(0, {"x": 1}, os.path.join(root, "0"))
            executor.submit(1, {"raise": True}, os.path.join(root, "1"))
            result: dict[str, Any] = {}
            while executor.running():
                for event in executor.poll(10):
                    if is_terminal(event):
                        result[str(event.trial_id)] = type(event).__name__
                    if isinstance(event, TrialFailed):
                        result["error"] = event.error
                    elif hasattr(event, "metric"):
                        result["metric"] = event.metric
            print(json.dumps(result), flush=True)
            return
        executor.submit(0, {"x": 1, "sleep": 60}, os.path.join(root, "0"))
        while not any(isinstance(e, TrialStarted) for e in executor.poll(10)):
            pass
        print(json.dumps(executor.worker_pids()), flush=True)
        if mode == "orphan":
            os.kill(os.getpid(), signal.SIGKILL)  # the driver dies without any clean-up
        while True:  # "interrupt": wait for the test's SIGINT (Ctrl-C)
            executor.poll(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
