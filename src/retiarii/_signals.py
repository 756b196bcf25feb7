"""Ctrl-C around code that trains: what Lightning does to it undone, and a graceful first press.

Torch-free, so that both the Lightning evaluator and the one-shot experiment use it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

__all__ = ["keyboard_interrupt_passes_through"]


@contextlib.contextmanager
def keyboard_interrupt_passes_through(
    first_press: Callable[[], bool] | None = None,
) -> Iterator[None]:
    """Undo what Lightning does on Ctrl-C (``sys.exit(1)`` and ignoring SIGINT from then on): the
    ``KeyboardInterrupt`` is raised again and SIGINT's handler restored, so the caller stops as it
    does with any other code.

    ``first_press``: while Python's default handler is installed (main thread), a Ctrl-C calls it
    instead of interrupting; it returns True when it took care of the request (e.g. set a stop
    flag that the training loop checks at its next step), False to interrupt now.
    """
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    if first_press is not None and handler is signal.default_int_handler:

        def on_sigint(signum: int, frame: object) -> None:
            if not first_press():
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    except SystemExit as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise exc.__context__ from None
        raise
    finally:
        if main and handler is not None and signal.getsignal(signal.SIGINT) is not handler:
            signal.signal(signal.SIGINT, handler)
