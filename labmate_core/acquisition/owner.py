"""Which process runs an acquisition: ``info/owner`` = ``host@pidns:pid:start``.

A restarted kernel closes the acquisition it left running only when that process is gone: a
second notebook on the same data directory (same ``temp.json``) never ends another live
kernel's measurement. ``pidns`` (the inode of the process's pid namespace, Linux) tells two
containers that share a host name apart; owners written without it (``host:pid:start``) are
compared by host name alone.
"""

from __future__ import annotations

import functools
import os
import socket

from ..backends.copying import process_alive

__all__ = ["owner_alive", "this_process"]


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return ""
    fields = text[text.rfind(")") + 2 :].split()  # the name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else ""


def _machine() -> str:
    """``host@pidns``: the host name and this process's pid namespace (``host`` alone where
    namespaces are unknown)."""
    try:
        return f"{socket.gethostname()}@{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return socket.gethostname()


@functools.lru_cache(maxsize=1)
def _this(pid: int) -> str:
    return f"{_machine()}:{pid}:{_start_time(pid)}"


def this_process() -> str:
    """``host@pidns:pid:start`` of this process."""
    return _this(os.getpid())


def owner_alive(owner: object) -> bool | None:
    """Whether the process ``owner`` names is still running: True / False, None when this
    cannot be told (another host, an unreadable value)."""
    if not isinstance(owner, str) or owner.count(":") < 2:
        return None
    machine, pid_text, start = owner.rsplit(":", 2)
    here = _machine() if "@" in machine else socket.gethostname()
    if machine != here or not pid_text.isdigit():
        return None  # another host, or another pid namespace: its pids are not ours
    pid = int(pid_text)
    if not process_alive(pid):
        return False
    current = _start_time(pid)
    return not (start and current and current != start)  # a reused pid is another process
