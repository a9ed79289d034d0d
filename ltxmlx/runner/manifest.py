"""`manifest.jsonl`: one JSON line per finished item, appended and flushed when its video is written.

An item counts as finished on a rerun only if its line carries the same stage keys as the current
plan and its video file exists; a torn last line (killed mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def output_file(entry: dict) -> str:
    """The entry's output, relative to the run directory: its mp4, or the wav of an audio-only item."""
    return entry.get("video") or entry.get("audio") or ""


def output_exists(root: Path, entry: dict) -> bool:
    rel = output_file(entry)
    return bool(rel) and (root / rel).is_file()


class Manifest:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def entries(self) -> list[dict]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a kill; its item is simply not finished
        return out

    def finished(self, expected_keys: dict[str, dict[str, str]], root: Path) -> dict[str, dict]:
        """Entries by item id whose keys match `expected_keys[id]` and whose output file exists."""
        done = {}
        for e in self.entries():
            iid = e.get("id")
            if iid in expected_keys and e.get("keys") == expected_keys[iid] and output_exists(root, e):
                done[iid] = e
        return done

    def append(self, entry: dict) -> None:
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            # A previous run killed mid-line leaves no newline; start on a fresh line.
            if f.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
                f.write("\n")
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
