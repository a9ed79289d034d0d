"""`status.json`: the state of a run directory, rewritten atomically whenever it changes.

state is one of running / finished / failed / interrupted; `finished` and `total` count items; pid
and host name the process that wrote it; `reason` says why a run failed or stopped.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ltxmlx.runner.outputs import write_json_atomic
from ltxmlx.runner.ownership import holder_info

STATES = ("running", "finished", "failed", "interrupted")


def write_status(root: Path, state: str, finished: int, total: int, reason: str = "") -> dict:
    if state not in STATES:
        raise ValueError(f"status state {state!r}; expected one of {', '.join(STATES)}")
    info = holder_info()
    status = {"state": state, "finished": finished, "total": total, "pid": info["pid"], "host": info["host"],
              "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if reason:
        status["reason"] = reason
    write_json_atomic(Path(root) / "status.json", status)
    return status
