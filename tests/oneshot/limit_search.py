"""``python -m tests.oneshot.limit_search DIR SECONDS [STRATEGY]``: the experiment of
:mod:`tests.oneshot.resume_search` with every forward pass sleeping ``SECONDS`` (the Ctrl-C
tests, which need steps long enough to be interrupted); ``STRATEGY`` (``ddp``, ``ddp_spawn``):
on 2 CPU processes (with ``ddp`` only rank 0's forward passes sleep, rank 1 waits for them)."""

from __future__ import annotations

import sys

from . import resume_search

# at import: spawned ranks import this module (not as __main__) and sleep too
resume_search.SLOW["seconds"] = float(sys.argv[2])

if __name__ == "__main__":
    ddp = {"accelerator": "cpu", "devices": 2, "strategy": sys.argv[3]} if sys.argv[3:] else {}
    resume_search.run(sys.argv[1], **ddp)
