"""Weight references -> local files: local paths, Hugging Face Hub files, and the tiny test model.

A reference is one string:
- a local path (`~` expanded): a file, or a folder for the text encoder;
- `hf://owner/repo/path/in/repo.safetensors[@revision]`: one file through huggingface_hub's cache;
- `hf://owner/repo[@revision]`: a whole repository snapshot (Gemma folders);
- `tiny://<component>` / `tiny://2.5/<component>`: the deterministic random-weight LTX-2 / LTX-2.5
  model, written on first use into `<cache>/tiny` (`ltxmlx.pipelines.tiny`, `ltxmlx.pipelines.tiny25`).
Offline mode (`paths.hf_offline` or `HF_HUB_OFFLINE=1`) only looks in the local Hub cache.
A missing file raises `MissingWeightsError` naming the file and how to get it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ltxmlx import backend
from ltxmlx.errors import LtxmlxError
from ltxmlx.logs import route_library_logs

log = logging.getLogger(__name__)

_HF = re.compile(r"^hf://(?P<repo>[^/@\s]+/[^/@\s]+)(?:/(?P<file>[^@\s]+))?(?:@(?P<rev>[^\s]+))?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MissingWeightsError(LtxmlxError):
    """A weight file is not there; the message names it and says how to get it."""


@dataclass(frozen=True)
class WeightRef:
    spec: str
    kind: str  # "local", "hf_file", "hf_repo" or "tiny"
    repo: str = ""
    file: str = ""
    revision: str | None = None

    @property
    def label(self) -> str:
        return self.spec


def parse(spec: str) -> WeightRef:
    if not spec or not spec.strip():
        raise MissingWeightsError("empty weight reference")
    if spec.startswith("hf://"):
        m = _HF.match(spec)
        if not m:
            raise MissingWeightsError(
                f"bad Hugging Face reference {spec!r}; expected hf://owner/repo[/file][@revision]"
            )
        kind = "hf_file" if m.group("file") else "hf_repo"
        return WeightRef(spec, kind, m.group("repo"), m.group("file") or "", m.group("rev"))
    if spec.startswith("tiny://"):
        return WeightRef(spec, "tiny", file=spec[len("tiny://"):])
    return WeightRef(spec, "local", file=spec)


def _offline(offline: bool) -> bool:
    return offline or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def _how_to_get(ref: WeightRef) -> str:
    if ref.kind == "hf_file":
        rev = f" --revision {ref.revision}" if ref.revision else ""
        return f"download it with `hf download {ref.repo} {ref.file}{rev}` (or run once online)"
    if ref.kind == "hf_repo":
        return f"download it with `hf download {ref.repo}` (or run once online)"
    return "check the path, or use an hf://owner/repo/file reference"


def resolve(spec: str, cache_dir: str | Path, offline: bool = False, download: bool = True) -> Path:
    """Local path of `spec`; downloads Hub files unless offline or `download` is False."""
    ref = parse(spec)
    if ref.kind == "local":
        path = Path(ref.file).expanduser()
        if not path.exists():
            raise MissingWeightsError(f"weight file {str(path)!r} not found; {_how_to_get(ref)}")
        return path.resolve()
    if ref.kind == "tiny":
        return _tiny(ref.file, Path(cache_dir).expanduser())
    return _hub(ref, local_only=_offline(offline) or not download, offline=_offline(offline))


def _hub(ref: WeightRef, local_only: bool, offline: bool) -> Path:
    # Imported here: the Hub client is slow to import and not needed for local or tiny weights.
    import huggingface_hub as hub
    from huggingface_hub import errors

    route_library_logs()  # its warnings through our handlers: shown once, kept in run.log
    missing = (errors.LocalEntryNotFoundError, errors.EntryNotFoundError,
               errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.GatedRepoError)
    try:
        if ref.kind == "hf_file":
            return Path(hub.hf_hub_download(ref.repo, ref.file, revision=ref.revision,
                                            local_files_only=local_only))
        return Path(hub.snapshot_download(ref.repo, revision=ref.revision, local_files_only=local_only))
    except missing as e:
        if offline:
            where = "not in the local Hugging Face cache (offline mode)"
        elif local_only:
            where = "not in the local Hugging Face cache (this step does not download)"
        else:
            where = "not available"
        reason = type(e).__name__
        raise MissingWeightsError(f"weights {ref.spec!r} {where} ({reason}); {_how_to_get(ref)}") from e


# The tiny models by generation: `tiny://<component>` is the LTX-2 one, `tiny://2.5/<component>` LTX-2.5's.
_TINY_MODELS = {"": "ensure_tiny_checkpoints", "2.5": "ensure_tiny25_checkpoints"}
_TINY_MODULES = {"": "ltxmlx.pipelines.tiny", "2.5": "ltxmlx.pipelines.tiny25"}


def _tiny(component: str, cache_dir: Path) -> Path:
    generation, _, name = component.rpartition("/")
    if generation not in _TINY_MODELS:
        raise MissingWeightsError(f"no tiny model for generation {generation!r}; tiny models: "
                                  f"{', '.join(repr(g or '2.0') for g in _TINY_MODELS)}")
    try:
        module = importlib.import_module(_TINY_MODULES[generation])
    except ModuleNotFoundError as e:
        raise MissingWeightsError(
            f"tiny://{component} needs {_TINY_MODULES[generation]}, which this install lacks ({e})"
        ) from e
    paths = getattr(module, _TINY_MODELS[generation])(cache_dir / "tiny")
    if name not in paths:
        raise MissingWeightsError(
            f"tiny model has no component {name!r}; it has: {', '.join(sorted(paths))}"
        )
    return Path(paths[name])


_HASHED: dict[str, str] = {}  # "real path|size|mtime_ns" -> sha256, for this process
CONTENT_SUFFIXES = (".safetensors", ".json", ".model")  # what a weight folder's identity covers


def default_hash_cache() -> Path:
    """Where file hashes persist between runs: `$LTXMLX_CACHE_DIR` (else ~/.cache/ltxmlx)/weight_hashes.json."""
    return backend.cache_root() / "weight_hashes.json"


def sha256_file(path: Path, hash_cache: Path | None = None) -> str:
    """sha256 of a file's bytes, hashed once: remembered by (path, size, mtime) in this process and
    in `hash_cache`; Hugging Face blobs are named by their sha256 and not read at all."""
    real = Path(path).resolve()
    if _SHA256.match(real.name) and real.parent.name == "blobs":
        return real.name
    st = real.stat()
    key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
    if key in _HASHED:
        return _HASHED[key]
    known = _load_json(hash_cache) if hash_cache else {}
    if key not in known:
        log.info("hashing %s (%.1f GB, once)", real, st.st_size / 1e9)
        h = hashlib.sha256()
        with open(real, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 24), b""):
                h.update(chunk)
        known[key] = h.hexdigest()
        if hash_cache:
            _save_json(hash_cache, {**_load_json(hash_cache), key: known[key]})
    _HASHED[key] = known[key]
    return known[key]


def _content_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in CONTENT_SUFFIXES and p.is_file())


def content_identity(path: str | Path, hash_cache: Path | None = None) -> dict:
    """What a file *is*, not where it lies: sha256 and size (a folder: sha256 over its files' names
    and hashes). Equal on every machine holding the same bytes, so stage keys built from it let a
    shared cache hit across runs and machines, and survive a re-download."""
    path = Path(path).expanduser()
    if path.is_dir():
        listing = [[str(f.relative_to(path)), sha256_file(f, hash_cache)] for f in _content_files(path)]
        digest = hashlib.sha256(json.dumps(listing, separators=(",", ":")).encode()).hexdigest()
        return {"sha256": digest, "files": len(listing)}
    return {"sha256": sha256_file(path, hash_cache), "size": path.stat().st_size}


def identity(path: Path, hash_cache: Path | None = None) -> dict:
    """Path, size, mtime and sha256 of a weight file (folders: of each content file in it), for records."""
    path = Path(path)
    if path.is_dir():
        return {"path": str(path), "files": {str(p.relative_to(path)): identity(p, hash_cache)
                                              for p in _content_files(path)}}
    st = path.resolve().stat()
    return {"path": str(path), "size": st.st_size, "mtime": int(st.st_mtime), "sha256": sha256_file(path, hash_cache)}


def _load_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _save_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
