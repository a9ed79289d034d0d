"""Conditioning-image geometry and range: resize to cover the target, center crop, map to [-1, 1].

Pure numpy on (H, W, 3) arrays. The resize is bilinear without antialiasing and with half-pixel
centres (PyTorch `interpolate(mode="bilinear", align_corners=False)`), as the official preprocessing.
"""

from __future__ import annotations

import math

import numpy as np

from ltxmlx.errors import ShapeError


def _bilinear_axis(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lo, hi) and weights of hi for resizing one axis from src to dst samples."""
    scale = src / dst
    x = np.maximum((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(x).astype(np.int64), src - 1)
    hi = np.minimum(lo + 1, src - 1)
    return lo, hi, (x - lo).astype(np.float32)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) -> (height, width, C) float32."""
    img = np.asarray(image, dtype=np.float32)
    y0, y1, wy = _bilinear_axis(img.shape[0], height)
    x0, x1, wx = _bilinear_axis(img.shape[1], width)
    rows = img[y0] * (1 - wy)[:, None, None] + img[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def resize_and_center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale (H, W, C) to cover height x width (aspect kept), then crop the centre: (height, width, C)."""
    if image.ndim != 3:
        raise ShapeError(f"image: expected (H, W, C), got shape {image.shape}")
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    src_h, src_w = image.shape[:2]
    scale = max(height / src_h, width / src_w)
    # ceil keeps the resized size >= the target despite float rounding (never a negative crop offset).
    new_h, new_w = math.ceil(src_h * scale), math.ceil(src_w * scale)
    resized = resize_bilinear(image, new_h, new_w)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return resized[top:top + height, left:left + width]


def to_model_input(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) values in [0, 255] -> (1, 3, 1, H, W) float32 in [-1, 1] (VAE encoder input)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ShapeError(f"image: expected (H, W, 3), got shape {image.shape}")
    x = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return x.transpose(2, 0, 1)[None, :, None]


def preprocess_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3) -> (1, 3, 1, height, width) float32 in [-1, 1], cover-resized and centre-cropped."""
    return to_model_input(resize_and_center_crop(image, height, width))


def default_image_crf(model_version: str) -> int:
    """The official H.264 CRF of the conditioning-image re-encode for a checkpoint's `model_version`:
    33 up to LTX-2.3, 18 from 2.4 on."""
    try:
        version = tuple(int(p) for p in str(model_version).split("."))
    except ValueError as e:
        raise ValueError(f"model_version must look like '2.3.0', got {model_version!r}") from e
    return 18 if version >= (2, 4) else 33
