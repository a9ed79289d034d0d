"""What every benchmark script shares: the entry points' MLX settings, the device's name, the results file.

Import it before MLX (bench scripts put the repository root on sys.path first)."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from pathlib import Path

from ltxmlx import backend

backend.configure()  # the command-line entry points' MLX settings, before MLX is imported

import mlx.core as mx  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
# MLX settings that change speed or memory; recorded with every result (see ltxmlx/backend.py).
MLX_ENV = ("MLX_MAX_OPS_PER_BUFFER", "MLX_CUDA_CONV_CACHE_SIZE", "MLX_ENABLE_TF32", "MLX_PTX_CACHE_DIR")


def device_name() -> str:
    """The accelerator's name ("NVIDIA H100 80GB HBM3", "Apple M3 Max", ...), else the processor's."""
    name = str(mx.device_info().get("device_name", "") or "")
    if not name and mx.default_device() == mx.gpu:
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, check=True).stdout
            name = out.splitlines()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            name = "gpu"
    return name or platform.processor() or "unknown"


def write_results(benchmark: str, record: dict, out: Path | None = None) -> Path:
    """Write `record` with the device, MLX version, platform and MLX settings; default path
    bench/results/<benchmark>_<device>.json (`_small` appended for CPU smoke runs)."""
    device = device_name()
    if out is None:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", device).strip("_")
        out = RESULTS / f"{benchmark}_{slug}{'_small' if record.get('small') else ''}.json"
    payload = {
        "benchmark": benchmark, "device": device, "mlx": mx.__version__, "platform": platform.platform(),
        "env": {k: os.environ.get(k) for k in MLX_ENV}, **record,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"wrote {out}")
    return out
