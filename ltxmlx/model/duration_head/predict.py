"""Clip length from a prompt: the duration head's seconds turned into a frame count on the 8k+1 grid.

`predict_num_frames` reads the predictions back to the host (Python ints), as the official predictor
does with ``.item()``; each item goes through the head on its own, so its frame count is the same
whether it is predicted alone or in a batch.
"""

from __future__ import annotations

import logging
import math

import mlx.core as mx

from ltxmlx.model.duration_head.duration_head import DurationHead

log = logging.getLogger(__name__)

DEFAULT_CLAMP_SECONDS = (1.0, 20.0)


def predict_seconds(head: DurationHead, video_encoding: mx.array | None, audio_encoding: mx.array | None) -> mx.array:
    """Predicted duration (B,) in seconds from connector outputs (B, S, D) (either may be None)."""
    return head(video_encoding, audio_encoding)


def snap_frames(frames: int, time_scale: int = 8) -> int:
    """Round a frame count >= 1 down to the VAE's causal grid k*time_scale + 1."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    return (frames - 1) // time_scale * time_scale + 1


def seconds_to_num_frames(
    seconds: float, fps: float, clamp: tuple[float, float] | None = DEFAULT_CLAMP_SECONDS, time_scale: int = 8
) -> int:
    """Frames for `seconds` at `fps`: round, clamp to [min, max] seconds' frames, snap to 8k+1.

    Snapping floors; when that falls below the minimum the next grid point up is used, so the result
    stays inside the clamp (a clamp too narrow to hold a grid point is refused). clamp=None: only the
    lower bound of 1 frame.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    lo, hi = (1, None) if clamp is None else (round(clamp[0] * fps), round(clamp[1] * fps))
    if clamp is not None and not 1 <= lo <= hi:
        raise ValueError(f"clamp {clamp} s at {fps} fps gives frame bounds [{lo}, {hi}]; expected 1 <= min <= max")
    if not math.isfinite(seconds):
        raise ValueError(f"predicted duration is not a finite number of seconds: {seconds}")
    raw = round(seconds * fps)
    if hi is not None:
        raw = min(raw, hi)
    raw = max(lo, raw)
    frames = snap_frames(raw, time_scale)
    if frames < lo:
        frames = -(-(lo - 1) // time_scale) * time_scale + 1
        if hi is not None and frames > hi:
            raise ValueError(f"clamp {clamp} s at {fps} fps ([{lo}, {hi}] frames) holds no {time_scale}k+1 frame count")
    return frames


def predict_num_frames(
    head: DurationHead,
    video_encoding: mx.array | None,
    audio_encoding: mx.array | None,
    fps: float,
    clamp: tuple[float, float] | None = DEFAULT_CLAMP_SECONDS,
) -> list[int]:
    """One frame count (8k+1, within `clamp` seconds) per batch item of the encodings (B, S, D)."""
    batch = head.check_inputs(video_encoding, audio_encoding)
    out = []
    for i in range(batch):
        rows = slice(i, i + 1)
        item = [None if x is None else x[rows] for x in (video_encoding, audio_encoding)]
        seconds = predict_seconds(head, *item).item()
        frames = seconds_to_num_frames(seconds, fps, clamp)
        if clamp is not None and not clamp[0] <= seconds <= clamp[1]:
            log.warning("duration head: item %d predicted %.2f s, outside [%.2f, %.2f] s; using %d frames at %.2f fps",
                        i, seconds, clamp[0], clamp[1], frames, fps)
        else:
            log.info("duration head: item %d predicted %.2f s (%d frames at %.2f fps)", i, seconds, frames, fps)
        out.append(frames)
    return out
