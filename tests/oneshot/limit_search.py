"""``python -m tests.oneshot.limit_search DIR SECONDS [--ddp]``: the experiment of
:mod:`tests.oneshot.resume_search` with every forward pass sleeping ``SECONDS`` (the Ctrl-C
tests, which need steps long enough to be interrupted); ``--ddp``: on 2 CPU processes
(``strategy='ddp'``; rank 0's forward passes sleep, rank 1 waits for them)."""

from __future__ import annotations

import sys

from . import resume_search

if __name__ == "__main__":
    resume_search.SLOW["seconds"] = float(sys.argv[2])
    ddp = {"accelerator": "cpu", "devices": 2, "strategy": "ddp"} if "--ddp" in sys.argv else {}
    resume_search.run(sys.argv[1], **ddp)
