"""Checkpoint loading: safetensors + metadata, declarative key ops, FP8 dequantization, strict builds."""

from ltxmlx.loader.builder import build, load_weights, module_shapes
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint
from ltxmlx.loader.key_ops import KeyOps

__all__ = ["Checkpoint", "KeyOps", "build", "load_weights", "module_shapes", "open_checkpoint"]
