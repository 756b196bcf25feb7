"""``python -m tests.oneshot.limit_search DIR SECONDS``: the experiment of
:mod:`tests.oneshot.resume_search` with every forward pass sleeping ``SECONDS`` (the Ctrl-C
tests, which need steps long enough to be interrupted)."""

from __future__ import annotations

import sys

from . import resume_search

if __name__ == "__main__":
    resume_search.SLOW["seconds"] = float(sys.argv[2])
    resume_search.run(sys.argv[1])
