"""How to install an optional part of retiarii, said so that the command works as written.

retiarii is installed from a clone (``pip install -e '.[dashboard]'``), not from a package index,
so ``pip install 'retiarii[dashboard]'`` would fail. Every "install the X extra" hint comes from
here and names this interpreter and, for an editable install, the clone it came from.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

__all__ = ["cli_command", "install_command"]


def install_command(extra: str) -> str:
    """The pip command that adds the optional ``extra`` to the environment running retiarii."""
    python = shlex.quote(sys.executable)
    source = Path(__file__).resolve().parents[2]  # src/retiarii/_install.py -> the clone
    if (source / "pyproject.toml").is_file():
        return f"{python} -m pip install -e {shlex.quote(f'{source}[{extra}]')}"
    return f"{python} -m pip install {shlex.quote(f'retiarii[{extra}]')}"


def cli_command() -> str:
    """How to type the ``retiarii`` command here: ``retiarii`` when this environment's script is
    the one on ``PATH``, else its path (``.venv/bin/retiarii`` after the README's set-up)."""
    import os
    import shutil

    script = Path(sys.executable).parent / "retiarii"
    on_path = shutil.which("retiarii")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "retiarii"
    try:
        return shlex.quote(os.path.relpath(script))
    except ValueError:  # another drive (Windows)
        return shlex.quote(str(script))
