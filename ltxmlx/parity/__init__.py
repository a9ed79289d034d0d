"""Numeric parity with the official implementation, on its own fixture format (see `fixtures`)."""

import os

# The fixtures are float32; MLX on CUDA would otherwise run float32 matmuls and convs as TF32 (~1e-3 off).
os.environ.setdefault("MLX_ENABLE_TF32", "0")
