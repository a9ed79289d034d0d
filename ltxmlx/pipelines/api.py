"""The contract between the renderer and the pipelines.

A pipeline is a list of stages. The runner drives each stage over batches of render items: it enters the
stage (models are built), calls `run` on each batch, evaluates every yielded `StepEvent.state` (the only
place besides the loader that calls `mx.eval`), collects the per-item outputs the generator returns,
and exits the stage (models are freed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, Protocol, runtime_checkable

import mlx.core as mx

from ltxmlx.errors import LtxmlxError


@dataclass(frozen=True)
class ImageCondition:
    """An image that conditions the video at pixel frame `frame` with `strength` in [0, 1]."""

    path: str
    frame: int = 0
    strength: float = 1.0


@dataclass(frozen=True)
class ReferenceVideo:
    """An IC-LoRA control video (depth, pose, edges, ...) kept clean with `strength` in [0, 1].

    mask: optional grey video of the same frames whose brightness (0..1) weighs, per pixel region,
    how strongly the reference and the generated video attend to each other.
    """

    path: str
    strength: float = 1.0
    mask: str | None = None


@dataclass(frozen=True)
class AudioInput:
    """An audio track (wav / mp3 / m4a / a video's audio) read from `start_time` for at most
    `max_duration` seconds (None: to the end)."""

    path: str
    start_time: float = 0.0
    max_duration: float | None = None


@dataclass(frozen=True)
class SourceVideo:
    """An existing video (with or without audio) whose [start_time, end_time) window is regenerated."""

    path: str
    start_time: float
    end_time: float


@dataclass(frozen=True)
class RenderItem:
    """One video to render: a prompt, a seed and optional image conditions / reference videos /
    an input audio track / a source video to retake.

    num_frames: this item's clip length when it differs from the pipeline's (LTX-2.5's duration head
    picks one per prompt); None: the pipeline config's `num_frames`.
    """

    id: str
    prompt: str
    negative_prompt: str
    seed: int
    images: tuple[ImageCondition, ...] = ()
    references: tuple[ReferenceVideo, ...] = ()
    audio: AudioInput | None = None
    source: SourceVideo | None = None
    num_frames: int | None = None

    def frames(self, default: int | None) -> int:
        frames = self.num_frames if self.num_frames is not None else default
        if frames is None:
            raise LtxmlxError(f"item {self.id}: no frame count (the pipeline's num_frames is 'auto' and "
                              "the duration head has not set this item's)")
        return frames

    def shape_signature(self) -> tuple:
        """Items may share a stage call only if their latents have equal shapes: the clip length, the
        frame indices of every image (images add tokens at frames other than 0 always, at frame 0 when
        appended as a keyframe) and the number of reference videos."""
        return self.num_frames, tuple(sorted(img.frame for img in self.images)), len(self.references)


@dataclass(frozen=True)
class StepEvent:
    """Progress of a stage: `state` is a tree of lazy arrays the runner must evaluate.

    pipelined: the stage does not need `state` finished before it builds its next step, so the runner
    may evaluate it asynchronously and let the host build the next graph while the device computes
    (denoising steps). False (the default) means a blocking evaluation, e.g. to bound the memory of
    tiled decoding or before results are written to disk.
    """

    stage: str
    step: int
    total: int
    state: Any
    pipelined: bool = False


StageOutputs = list[dict[str, mx.array]]


class StageContractError(LtxmlxError):
    """A stage broke the contract below (e.g. returned the wrong number of outputs)."""


@runtime_checkable
class Stage(Protocol):
    name: str

    def key_inputs(self, item: RenderItem) -> dict:
        """JSON-able description of every setting this stage's output depends on (besides its inputs)."""

    def __enter__(self) -> "Stage": ...

    def __exit__(self, *exc) -> None: ...

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        """Process a batch; `inputs[i]` are item i's outputs of the previous stage."""
