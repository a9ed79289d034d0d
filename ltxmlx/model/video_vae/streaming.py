"""Streamed (temporally chunked) decode: exact, with memory bounded by the chunk length, not the video's.

The decoder runs as a chain of stages (`VideoDecoder.stream_stages`); frames wait in a queue in front
of each stage. Each step runs one stage on at most its `cap` queued frames, deepest stage first, so
frames flow to the output as soon as they are determined and no queue grows beyond a chunk. A
stage's cap is `chunk_frames` latent frames' worth of its frames, at most `step_frames` frames when
given; a stage whose frames are 8x smaller than the widest stage's takes proportionally more per step
(fewer, cheaper steps that never set the peak), which the peak estimate (`memory.step_elements`)
allows for.
"""

from __future__ import annotations

from collections.abc import Iterator

import mlx.core as mx

from ltxmlx.model.video_vae.decoder import VideoDecoder
from ltxmlx.model.video_vae.memory import stage_profiles, step_cap, step_elements
from ltxmlx.model.video_vae.temporal_context import TemporalContext, join_frames


CHEAP_STAGE_SHARE = 8  # stages this many times cheaper than the widest are batched up to its share


def stage_caps(decoder: VideoDecoder, chunk_frames: int, step_frames: int | None = None) -> list[int]:
    """Input frames each stage takes per step."""
    profiles = stage_profiles(decoder.config)
    share = step_elements(profiles, chunk_frames, 1, 1, step_frames) // CHEAP_STAGE_SHARE
    return [max(step_cap(p, chunk_frames, step_frames), share // p.elements) for p in profiles]


def stream_decode(
    decoder: VideoDecoder, z: mx.array, chunk_frames: int, step_frames: int | None = None
) -> Iterator[tuple[list[mx.array], mx.array | None]]:
    """Channels-last latent (B, F', H', W', C) -> steps (state, pixels): `state` to evaluate before the
    next step; `pixels` (B, f, H, W, 3) in z's dtype, or None. The pixels of all steps concatenate to
    `decoder.decode(z)`."""
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    stages = decoder.stream_stages()
    caps = stage_caps(decoder, chunk_frames, step_frames)
    n = len(stages)
    contexts = [TemporalContext() for _ in stages]
    queues: list[mx.array | None] = [z] + [None] * n
    ended = [True] + [False] * n  # all of the stage's input is in its queue
    finished = [False] * n
    while not finished[-1]:
        i = max(j for j in range(n) if not finished[j] and (queues[j] is not None or ended[j]))
        queue, cap = queues[i], caps[i]
        x = None if queue is None else queue[:, :cap]
        queues[i] = None if queue is None or queue.shape[1] <= cap else queue[:, cap:]
        ctx = contexts[i]
        ctx.last = ended[i] and queues[i] is None
        y = stages[i](x, ctx)
        if ctx.last:
            finished[i] = ended[i + 1] = True
        state = [q for q in queues[: n] if q is not None] + ctx.arrays()
        if i + 1 < n:
            queues[i + 1] = join_frames(queues[i + 1], y)
            yield state + ([] if queues[i + 1] is None else [queues[i + 1]]), None
        else:
            pixels = None if y is None else y.astype(z.dtype)
            yield state + ([] if pixels is None else [pixels]), pixels
