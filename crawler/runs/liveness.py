"""Whether a process on this host still runs: how dead runs and dead writers are told apart."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
