"""``python -m retiarii.oneshot.pytorch._rank PAYLOAD``: one rank (not 0) of a ``strategy='ddp'``
one-shot search, started by :class:`~.distributed.RankProcesses`."""

from __future__ import annotations

import sys

from .distributed import run_rank

if __name__ == "__main__":
    run_rank(sys.argv[1])
