"""Signals in test subprocesses.

A test runner started as a background job of a non-interactive shell runs with SIGINT ignored,
and its children inherit that: a test that stops a child with SIGINT (what Ctrl-C sends) would
then wait forever. Children that must answer Ctrl-C get ``preexec_fn=default_sigint``.
"""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """``preexec_fn``: SIGINT back to its default, so the child's Python raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
