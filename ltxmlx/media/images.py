"""Reading conditioning images, and the official H.264 re-encode that matches the training data.

The official pipelines pass every conditioning image through one H.264 frame (libx264, CRF 33 for
LTX-2 / LTX-2.3) before resizing, so the model sees the compression it was trained on.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ltxmlx.conditioning.image_preprocess import preprocess_image
from ltxmlx.errors import LtxmlxError
from ltxmlx.media.video import ffmpeg_exe

DEFAULT_IMAGE_CRF = 33
_ROTATION_FOR_ORIENTATION = {3: 180, 6: 270, 8: 90}
_EXIF_ORIENTATION = 0x0112


class ImageInputError(LtxmlxError, ValueError):
    """A conditioning image is missing, unreadable or cannot be prepared."""


def load_image(path: str | Path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3), EXIF orientation applied."""
    path = Path(path)
    if not path.is_file():
        raise ImageInputError(f"conditioning image not found: {path}")
    try:
        with Image.open(path) as img:
            orientation = img.getexif().get(_EXIF_ORIENTATION)
            if orientation in _ROTATION_FOR_ORIENTATION:
                img = img.rotate(_ROTATION_FOR_ORIENTATION[orientation], expand=True)
            return np.array(img.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ImageInputError(f"{path} is not a readable image: {e}") from e


def h264_roundtrip(image: np.ndarray, crf: int) -> np.ndarray:
    """Encode (H, W, 3) uint8 as one yuv420p H.264 frame at `crf` and decode it back (crf 0: unchanged).

    Odd sizes are cropped to even first (yuv420p needs them), as the official encoder does.
    """
    if crf == 0 or min(image.shape[:2]) < 2:
        return image
    ffmpeg = ffmpeg_exe()
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    frame = np.ascontiguousarray(image[:h, :w], dtype=np.uint8)
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}"]
    encode = [ffmpeg, "-v", "error", *raw, "-r", "1", "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
              "-crf", str(crf), "-pix_fmt", "yuv420p", "-f", "h264", "-"]
    decode = [ffmpeg, "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    try:
        stream = subprocess.run(encode, input=frame.tobytes(), capture_output=True, check=True).stdout
        out = subprocess.run(decode, input=stream, capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as e:
        raise ImageInputError(f"H.264 re-encode failed: {e.stderr.decode(errors='replace').strip()}") from e
    if len(out) != h * w * 3:
        raise ImageInputError(f"H.264 re-encode returned {len(out)} bytes, expected {h * w * 3}")
    return np.frombuffer(out, dtype=np.uint8).reshape(h, w, 3)


def load_conditioning_image(path: str | Path, height: int, width: int, crf: int = DEFAULT_IMAGE_CRF) -> np.ndarray:
    """Official image preprocessing: read, H.264 re-encode, cover-resize + centre crop, map to [-1, 1].

    Returns (1, 3, 1, height, width) float32, the video VAE encoder's input layout.
    """
    return preprocess_image(h264_roundtrip(load_image(path), crf), height, width)
