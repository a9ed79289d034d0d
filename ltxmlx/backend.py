"""Process-wide MLX settings, applied by the command-line entry points before MLX is first imported."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cache_root() -> Path:
    """`$LTXMLX_CACHE_DIR`, else ~/.cache/ltxmlx (the `paths.cache` default of conf/config.yaml)."""
    return Path(os.environ.get("LTXMLX_CACHE_DIR") or Path.home() / ".cache" / "ltxmlx").expanduser()


def configure() -> None:
    """MLX settings for the CUDA backend on Linux; an explicit environment setting wins.

    MLX submits up to ten command buffers ahead of the GPU and frees temporaries only when their buffer
    completes. With 8 operations per buffer the 19B transformer's activation peak at 6144 video tokens
    fell from +6.2 to +2.1 GiB on an H100 at the same speed. MLX-CUDA caches 128 convolution plans; the
    22B audio chain alone has 149 distinct convolutions and rebuilt every plan on every call: with 1024
    its decode fell from 2944 to 220 ms per clip (bench/README.md). MLX-CUDA keeps the kernels it
    compiles at run time (fused elementwise graphs, custom kernels) on disk; by default under the
    system's temporary folder, which a reboot empties, so they go to the ltxmlx cache instead and a
    later process skips their compilation (bench/first_call.py measures what that saves).
    """
    if platform.system() == "Linux":
        os.environ.setdefault("MLX_MAX_OPS_PER_BUFFER", "8")
        os.environ.setdefault("MLX_CUDA_CONV_CACHE_SIZE", "1024")
        os.environ.setdefault("MLX_PTX_CACHE_DIR", str(cache_root() / "mlx-ptx"))
