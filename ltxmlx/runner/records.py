"""`record.json`: everything needed to render a run again and to know what produced it.

Resolved config, Hydra choices and overrides, seeds and item ids, package versions, ffmpeg version,
git commit (+ dirty flag), platform, and the identity (size, mtime, sha256) of every weight file.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import mlx.core as mx

from ltxmlx.config.jobs import REPO_ROOT
from ltxmlx.config.schema import RunConfig

RECORD_VERSION = 1
PACKAGES = ("ltxmlx", "mlx", "mlx-metal", "mlx-cpu", "mlx-cuda", "numpy", "safetensors", "hydra-core",
            "omegaconf", "huggingface_hub", "imageio-ffmpeg", "pillow", "rich", "transformers", "mlx-lm")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue  # optional backends (mlx-metal / mlx-cuda) exist on some machines only
    return out


def git_state(root: Path = REPO_ROOT) -> dict:
    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    return {"commit": commit or None, "dirty": bool(git("status", "--porcelain")) if commit else None}


def platform_info() -> dict:
    info = {
        "system": platform.system(), "release": platform.release(), "machine": platform.machine(),
        "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
        "mlx_device": str(mx.default_device()),
    }
    if mx.metal.is_available():
        info["metal"] = {k: v for k, v in mx.device_info().items() if isinstance(v, (int, str))}
    return info


def ffmpeg_version() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_version()


def build_record(cfg: RunConfig, *, overrides: list[str], choices: dict, weights: dict[str, dict],
                 seeds: list[int], item_ids: list[str], run_dir: Path) -> dict:
    return {
        "version": RECORD_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(run_dir),
        "command": "python -m ltxmlx.run " + " ".join(overrides),
        "overrides": overrides,
        "choices": choices,
        "config": dataclasses.asdict(cfg),
        "seeds": seeds,
        "item_ids": item_ids,
        "weights": weights,
        "packages": package_versions(),
        "ffmpeg": ffmpeg_version(),
        "git": git_state(),
        "platform": platform_info(),
    }
