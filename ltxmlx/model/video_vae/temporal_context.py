"""Temporal context of a chunked (streamed) decode: what each layer carries from one chunk of frames to
the next so that decoding a video chunk by chunk gives exactly the whole-video result.

A non-causal k-frame convolution needs (k-1)/2 frames beyond each output frame, so it holds back its
last output frame(s) until the next chunk brings the frames after them, and carries its last k-1 input
frames; a residual block carries the inputs its convolutions have not yet answered; the time-doubling
upsamplers drop the first frame of the video only. Chunks are (B, f, H, W, C) channels-last arrays, or
None when a layer has nothing to hand on yet.
"""

from __future__ import annotations

import mlx.core as mx


def join_frames(a: mx.array | None, b: mx.array | None) -> mx.array | None:
    """Concatenate two optional chunks along time (axis 1)."""
    if a is None:
        return b
    if b is None:
        return a
    return mx.concatenate([a, b], axis=1)


class TemporalContext:
    """Per-layer frames carried between the chunks of one streamed decode of one (spatial) tile.

    `last` is set by the driver while the chunk it passes in ends the layer's input stream, so that
    the layers pad the end of the video (as the whole decode does) and flush what they held back.
    """

    def __init__(self) -> None:
        self.last = False
        self._carried: dict[tuple[int, str], mx.array] = {}
        self._started: set[tuple[int, str]] = set()

    def carried(self, owner: object, name: str) -> mx.array | None:
        return self._carried.get((id(owner), name))

    def carry(self, owner: object, name: str, frames: mx.array | None) -> None:
        """Keep `frames` for the next chunk. They are copied: a slice would keep the whole buffer it
        was cut from alive until the next chunk."""
        key = (id(owner), name)
        if frames is None or frames.shape[1] == 0:
            self._carried.pop(key, None)
        else:
            self._carried[key] = mx.contiguous(frames)

    def start(self, owner: object, name: str) -> bool:
        """True the first time it is asked for (owner, name): the layer sees the start of the video."""
        key = (id(owner), name)
        if key in self._started:
            return False
        self._started.add(key)
        return True

    def align(self, owner: object, x: mx.array | None, count: int) -> mx.array | None:
        """Queue the chunk `x` of a layer's input and take its oldest `count` frames: the inputs that
        match the `count` frames its convolutions have just produced (residual connections)."""
        queue = join_frames(self.carried(owner, "queue"), x)
        if count == 0:
            self.carry(owner, "queue", queue)
            return None
        self.carry(owner, "queue", queue[:, count:])
        return queue[:, :count]

    def arrays(self) -> list[mx.array]:
        """Everything carried: evaluate it with each chunk, so the next chunk's graph starts from data."""
        return list(self._carried.values())

    def carried_bytes(self) -> int:
        return sum(a.nbytes for a in self._carried.values())
