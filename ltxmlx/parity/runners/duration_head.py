"""Parity runner for the duration head: seconds per stream combination, frame counts per fps and clamp.

Output names are `<prompt>.seconds_<streams>` (streams: av, video_only, audio_only) and
`<prompt>.num_frames_fps<fps>_<clamp>` (clamp: unclamped or default_clamp, from both streams); the
prompts, rates and clamps are read from the case's output names.
"""

from __future__ import annotations

import re

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.model.duration_head import DEFAULT_CLAMP_SECONDS, predict_num_frames, predict_seconds

_SECONDS = re.compile(r"^(\w+)\.seconds_(av|video_only|audio_only)$")
_FRAMES = re.compile(r"^(\w+)\.num_frames_fps(\d+(?:\.\d+)?)_(unclamped|default_clamp)$")
_STREAMS = {"av": (True, True), "video_only": (True, False), "audio_only": (False, True)}
_CLAMPS = {"unclamped": None, "default_clamp": DEFAULT_CLAMP_SECONDS}


def run(case) -> dict[str, mx.array]:
    head = build("duration_head", case.checkpoint_path(0), dtype=mx.float32)

    def encodings(prompt: str, video: bool = True, audio: bool = True):
        return (
            mx.array(case.input(f"{prompt}.video_encoding")) if video else None,
            mx.array(case.input(f"{prompt}.audio_encoding")) if audio else None,
        )

    out: dict[str, mx.array] = {}
    for name in case.outputs:
        if m := _SECONDS.match(name):
            out[name] = predict_seconds(head, *encodings(m.group(1), *_STREAMS[m.group(2)]))
        elif m := _FRAMES.match(name):
            (frames,) = predict_num_frames(head, *encodings(m.group(1)), float(m.group(2)), _CLAMPS[m.group(3)])
            out[name] = mx.array(frames, dtype=mx.int64)
    return out
