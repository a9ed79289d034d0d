"""Library entry point: render a list of items through a pipeline, in memory, and return frames and
waveforms. Stage-major (each stage's models are built once and freed before the next stage), items in
batches of `batch_size` with equal latent shapes.

Like the renderer, this is an evaluation point: it evaluates every StepEvent the stages yield.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltxmlx.pipelines.api import RenderItem, Stage, StageContractError, StepEvent
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.config.validate import validate_items


@dataclass(frozen=True)
class RenderResult:
    """video: uint8 (F, H, W, 3) (None from an audio-only pipeline); audio: float32 (2, samples)
    ((2, 0) in video-only mode)."""

    item: RenderItem
    video: np.ndarray | None
    audio: np.ndarray
    fps: float
    audio_sample_rate: int


def batches(items: Sequence[RenderItem], batch_size: int) -> list[list[int]]:
    """Indices of items grouped by latent shape, in chunks of at most batch_size (plan order kept)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.shape_signature(), []).append(i)
    return [g[i:i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]


def run_stage(stage: Stage, items: list[RenderItem], inputs: list[dict],
              on_event: Callable[[StepEvent], None] | None = None) -> list[dict]:
    """Drive one (entered) stage over one batch: evaluate each event, return the evaluated outputs.

    Pipelined events are evaluated asynchronously: the next step's graph is built while the device
    still computes this one (the event is reported when submitted).
    """
    gen = stage.run(items, inputs)
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            outputs = stop.value
            break
        if event.pipelined:
            mx.async_eval(event.state)
        else:
            mx.eval(event.state)
        if on_event is not None:
            on_event(event)
    if not isinstance(outputs, list) or len(outputs) != len(items):
        got = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
        raise StageContractError(f"stage {stage.name!r} returned {got} outputs for a batch of {len(items)}")
    mx.eval(outputs)
    return outputs


def render(cfg: PipelineConfig, items: Sequence[RenderItem], batch_size: int = 1,
           stages: Sequence[Stage] | None = None,
           on_event: Callable[[StepEvent], None] | None = None) -> list[RenderResult]:
    """Render `items`; all input checks (config, LoRAs, images, keyframes) run before any model loads.

    stages: the pipeline to use (default `make_pipeline(cfg)`), e.g. one built with injected noise.
    """
    items = list(items)
    stages = list(stages) if stages is not None else make_pipeline(cfg)
    validate_items(cfg, items)
    groups = batches(items, batch_size)
    outputs: list[dict] = [{} for _ in items]
    for stage in stages:
        with stage:
            for group in groups:
                result = run_stage(stage, [items[i] for i in group], [outputs[i] for i in group], on_event)
                for i, out in zip(group, result):
                    outputs[i] = out
    final = stages[-1]
    return [RenderResult(item, np.array(out["video"]) if "video" in out else None, np.array(out["audio"]), final.fps,
                         final.audio_sample_rate) for item, out in zip(items, outputs)]
