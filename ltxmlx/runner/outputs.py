"""The run directory: `plan.json`, `record.json`, `manifest.jsonl`, `status.json`, `videos/`, `thumbs/`,
`contact_sheet.png`, `cache/` (unless shared elsewhere), plus Hydra's `.hydra/` and `run.log`.

The renderer writes only inside the run directory and never through a symbolic link: a run directory
that contains one is refused (`check_no_links`), and files are written to a fresh temporary name
and renamed over their final name, which replaces a link rather than following it.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from ltxmlx.errors import LtxmlxError
from ltxmlx.runner.ownership import temp_path


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


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a new per-process temporary file (never following a link)."""
    tmp = temp_path(Path(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(path: Path, data) -> None:
    write_bytes_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8"))


def check_no_links(root: Path) -> None:
    """Raise OutputDirError when anything inside `root` is a symbolic link (the root itself may be one)."""
    root = Path(root)
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                raise OutputDirError(
                    f"run directory {str(root)!r} contains a symbolic link {str(p.relative_to(root))!r} "
                    f"(-> {os.readlink(p)}); the renderer never writes through links: remove it or use a new "
                    f"run directory")


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

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    def prepare(self) -> None:
        check_writable(self.root)
        check_no_links(self.root)
        try:
            for d in (self.root, self.videos, self.thumbs):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise OutputDirError(f"output directory {str(self.root)!r} is not writable: {e.strerror}") from e
