"""The run directory: `plan.json`, `record.json`, `manifest.jsonl`, `videos/`, `thumbs/`,
`contact_sheet.png`, `cache/` (unless shared elsewhere), plus Hydra's `.hydra/` and `run.log`."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from ltxmlx.errors import LtxmlxError


class OutputDirError(LtxmlxError):
    """The output directory cannot be created or written."""


def check_writable(path: str | Path) -> None:
    """Raise OutputDirError unless `path` (which may not exist yet) can be created and written.

    Creates the parent of `path` and writes a probe file there: permission bits alone do not tell
    (root ignores them; read-only mounts and pseudo filesystems refuse anyway).
    """
    p = Path(path).expanduser().absolute()
    parent = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".ltxmlx-write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputDirError(f"output directory {str(p)!r} cannot be written: {e.strerror or e}") from e


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def record(self) -> Path:
        return self.root / "record.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.jsonl"

    @property
    def videos(self) -> Path:
        return self.root / "videos"

    @property
    def thumbs(self) -> Path:
        return self.root / "thumbs"

    @property
    def contact_sheet(self) -> Path:
        return self.root / "contact_sheet.png"

    @property
    def default_cache(self) -> Path:
        return self.root / "cache"

    def prepare(self) -> None:
        check_writable(self.root)
        try:
            for d in (self.root, self.videos, self.thumbs):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise OutputDirError(f"output directory {str(self.root)!r} is not writable: {e.strerror}") from e
