"""Ray in the tests: a loopback-only local instance with its files in a temporary folder.

Every Ray instance the tests start listens on 127.0.0.1 only, runs without Ray's dashboard, and
keeps its temp files and home directory (where Ray writes its auth token) in a fresh folder under
``/tmp`` (short, because Ray's socket paths must stay under 108 characters).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

#: Arguments for ``ray.init`` besides the temp dir: 2 CPUs, as the issue's tests ask.
INIT_ARGS: dict[str, Any] = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}


def short_tmpdir() -> str:
    """A fresh folder with a short path (Ray puts unix sockets inside)."""
    return tempfile.mkdtemp(prefix="rtr", dir="/tmp")


def subprocess_env(tmp: str, marker: str | None = None) -> dict[str, str]:
    """Environment for a driver subprocess that starts its own Ray: files in ``tmp``, a marker.

    Every process Ray starts inherits the environment, so ``RETIARII_TEST_MARKER`` later finds
    them all (see :func:`processes_with_marker`). Ray variables of this process are left out.
    """
    # Not what this process's own Ray instance put in its environment (e.g. RAY_AUTH_MODE=token
    # would make the child's Ray wait for a token that its fresh home does not have).
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RAY_") and not value.startswith("ray.")
    }
    env.update(
        HOME=tmp,
        RAY_TMPDIR=tmp,
        RAY_USAGE_STATS_ENABLED="0",
        RETIARII_TEST_MARKER=marker or uuid.uuid4().hex,
        PYTHONUNBUFFERED="1",
    )
    return env


def processes_with_marker(marker: str) -> list[tuple[int, str]]:
    """Live processes whose environment holds ``RETIARII_TEST_MARKER=marker``: (pid, name)."""
    needle = f"RETIARII_TEST_MARKER={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as file:
                environ = file.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        if needle in environ and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append((int(entry), stat.split("(", 1)[1].rsplit(")", 1)[0]))
    return found


def processes_with_marker_and_children(marker: str) -> list[tuple[int, str]]:
    """:func:`processes_with_marker`, and every descendant of them: (pid, name).

    A Python process that renames itself (Ray's agents do, with ``setproctitle``) may overwrite
    what ``/proc/PID/environ`` shows, marker included; it is still found as a child of the raylet.
    """
    found = dict(processes_with_marker(marker))
    parents: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        state, ppid = rest.split()[:2]
        if state != "Z":
            parents.setdefault(int(ppid), []).append((int(entry), name))
    todo = list(found)
    while todo:
        for pid, name in parents.get(todo.pop(), []):
            if pid not in found:
                found[pid] = name
                todo.append(pid)
    return sorted(found.items())


def listening_addresses(pids: list[int]) -> set[str]:
    """The local IP addresses on which the processes ``pids`` accept TCP connections."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    addresses = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            with open(table) as file:
                rows = file.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.add(_ip(fields[1].split(":")[0], width))
    return addresses


def _ip(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    if width == 8:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    joined = b"".join(words)
    return ":".join(joined[i : i + 2].hex() for i in range(0, 16, 2))
