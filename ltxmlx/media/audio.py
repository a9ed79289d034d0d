"""Write a waveform as a PCM16 wav file (standard library `wave`), atomically: the file is written
under a temporary name and renamed, so a killed run never leaves a truncated file under the final name."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from ltxmlx.errors import ShapeError


def to_pcm16(audio: np.ndarray) -> bytes:
    """float (channels, samples) in [-1, 1] -> interleaved little-endian int16 (clipped, rounded)."""
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    return np.ascontiguousarray(pcm.T).tobytes()


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write float `audio` (channels, samples) at `sample_rate` Hz to `path` as PCM16; returns the path."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[0] not in (1, 2) or audio.shape[1] == 0:
        raise ShapeError(f"audio: expected float (1 or 2 channels, samples > 0), got {audio.dtype} {audio.shape}")
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(audio.shape[0])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(to_pcm16(audio))
    os.replace(tmp, path)
    return path


def waveform_picture(audio: np.ndarray, height: int = 256, width: int = 512) -> np.ndarray:
    """A still picture of float `audio` (channels, samples): the per-column min/max envelope of the
    channel mean, light on dark, uint8 (height, width, 3). The frame of an audio-only item's mp4."""
    mono = np.asarray(audio, dtype=np.float32).mean(axis=0)
    picture = np.full((height, width, 3), 24, dtype=np.uint8)
    picture[height // 2] = 70  # the zero line
    if mono.size == 0:
        return picture
    columns = np.array_split(np.clip(mono, -1.0, 1.0), width) if mono.size >= width else [mono] * width
    rows = np.arange(height)[:, None]
    top = np.array([(1.0 - c.max()) * 0.5 * (height - 1) if c.size else height / 2 for c in columns])
    bottom = np.array([(1.0 - c.min()) * 0.5 * (height - 1) if c.size else height / 2 for c in columns])
    inside = (rows >= np.floor(top)[None]) & (rows <= np.ceil(bottom)[None])
    picture[inside] = (120, 200, 255)
    return picture
