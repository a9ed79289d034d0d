"""Who owns a run directory and its temporary files.

`RunLock` holds an exclusive `flock` on `<run dir>/.lock` for the life of a run and writes the
holder (pid, host, start time) into it. The kernel drops the lock when its process dies, so a lock
left by a killed run is stale by construction and the next launch simply takes it over; a live
holder makes a second launch fail with `RunDirLockedError` naming it.

Temporary files carry their owner (`temp_path`): a per-process unique name with host and pid, so
cleanup (`owner_gone`) removes only temporaries whose process no longer runs on this host.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path

from ltxmlx.errors import LtxmlxError

log = logging.getLogger(__name__)

HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname() or "host")[:40]
LOCK_NAME = ".lock"
_held: dict[Path, tuple[int, int]] = {}  # run dir -> (fd, depth) of locks this process holds


class RunDirLockedError(LtxmlxError):
    """Another live process renders into this run directory."""


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def holder_info() -> dict:
    return {"pid": os.getpid(), "host": HOST,
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}


class RunLock:
    """Exclusive ownership of a run directory (re-entrant within one process)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).absolute()
        self.path = self.root / LOCK_NAME

    def __enter__(self) -> RunLock:
        if self.root in _held:
            fd, depth = _held[self.root]
            _held[self.root] = (fd, depth + 1)
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RunDirLockedError(
                f"run directory {str(self.root)!r} is in use by {self._holder()}; wait for it to finish "
                f"or choose another directory") from None
        previous = os.read(fd, 4096)
        if previous.strip():
            log.info("took over a stale lock of %s (its process is gone)", previous.decode("utf-8", "replace").strip())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_info()).encode(), 0)
        _held[self.root] = (fd, 1)
        return self

    def _holder(self) -> str:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return f"process {info['pid']} on host {info['host']} (since {info.get('since', '?')})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def __exit__(self, *exc) -> None:
        fd, depth = _held[self.root]
        if depth > 1:
            _held[self.root] = (fd, depth - 1)
            return
        del _held[self.root]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def check_unlocked(root: str | Path) -> None:
    """Raise RunDirLockedError when a live process holds `root`'s lock (without taking it)."""
    lock = RunLock(root)
    if lock.root in _held or not lock.path.is_file():
        return
    fd = os.open(lock.path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise RunDirLockedError(f"run directory {str(lock.root)!r} is in use by {lock._holder()}; wait for it "
                                f"to finish or choose another directory") from None
    finally:
        os.close(fd)  # closing drops the probe's shared lock


def temp_path(final: Path, suffix: str = "") -> Path:
    """A temporary name beside `final`, unique to this process: `.<name>~<host>~<pid>~<rand>.tmp<suffix>`."""
    return final.with_name(f".{final.name}~{HOST}~{os.getpid()}~{uuid.uuid4().hex[:8]}.tmp{suffix}")


_TEMP = re.compile(r"^\..*~(?P<host>[A-Za-z0-9-]+)~(?P<pid>\d+)~[0-9a-f]{8}\.tmp")


def owner_gone(tmp: Path) -> bool:
    """Whether the process that wrote temporary file `tmp` is gone (unknown owners count as alive)."""
    m = _TEMP.match(tmp.name)
    if not m or m.group("host") != HOST:
        return False
    return not pid_alive(int(m.group("pid")))
