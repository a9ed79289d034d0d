"""Attention perturbations (STG and modality isolation), per sample and per block."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import mlx.core as mx

from ltxmlx.errors import ShapeError


class PerturbationType(IntEnum):
    SKIP_VIDEO_SELF_ATTN = 0
    SKIP_AUDIO_SELF_ATTN = 1
    SKIP_A2V_CROSS_ATTN = 2
    SKIP_V2A_CROSS_ATTN = 3


@dataclass(frozen=True)
class Perturbation:
    """Skip one attention type in ``blocks`` (None = every block) for one sample."""

    type: PerturbationType
    blocks: tuple[int, ...] | None = None

    def hits(self, kind: PerturbationType, block: int) -> bool:
        return self.type == kind and (self.blocks is None or block in self.blocks)


@dataclass(frozen=True)
class Skip:
    """One attention type in one block: which samples are perturbed."""

    perturbed: tuple[bool, ...]

    @property
    def none(self) -> bool:
        return not any(self.perturbed)

    @property
    def all(self) -> bool:
        return all(self.perturbed)

    def keep(self, dtype: mx.Dtype) -> mx.array | None:
        """(B, 1, 1) keep-mask (1 = attend, 0 = perturbed), None when nothing is perturbed."""
        if self.none:
            return None
        return mx.array([0.0 if p else 1.0 for p in self.perturbed], dtype=dtype).reshape(-1, 1, 1)


@dataclass(frozen=True)
class BlockPerturbations:
    """The four perturbation kinds of one block."""

    video_self: Skip
    audio_self: Skip
    a2v: Skip
    v2a: Skip


@dataclass(frozen=True)
class BatchPerturbations:
    """Per-sample perturbation lists for a batch; ``block(i)`` gives block i's masks."""

    samples: tuple[tuple[Perturbation, ...], ...]

    @classmethod
    def of(cls, samples: Sequence[Sequence[Perturbation]]) -> "BatchPerturbations":
        return cls(tuple(tuple(s) for s in samples))

    @classmethod
    def uniform(cls, batch: int, perturbations: Sequence[Perturbation]) -> "BatchPerturbations":
        """The same perturbations for every sample (e.g. a modality-isolation pass)."""
        return cls(tuple(tuple(perturbations) for _ in range(batch)))

    @property
    def batch_size(self) -> int:
        return len(self.samples)

    def _skip(self, kind: PerturbationType, block: int) -> Skip:
        return Skip(tuple(any(p.hits(kind, block) for p in sample) for sample in self.samples))

    def block(self, index: int) -> BlockPerturbations:
        return BlockPerturbations(
            video_self=self._skip(PerturbationType.SKIP_VIDEO_SELF_ATTN, index),
            audio_self=self._skip(PerturbationType.SKIP_AUDIO_SELF_ATTN, index),
            a2v=self._skip(PerturbationType.SKIP_A2V_CROSS_ATTN, index),
            v2a=self._skip(PerturbationType.SKIP_V2A_CROSS_ATTN, index),
        )

    def check_batch(self, batch: int) -> None:
        if self.batch_size != batch:
            raise ShapeError(f"perturbations: expected one entry per sample ({batch}), got {self.batch_size}")


def no_perturbations(batch: int) -> BlockPerturbations:
    """Block masks that perturb nothing."""
    none = Skip((False,) * batch)
    return BlockPerturbations(none, none, none, none)


MODALITY_ISOLATION = (
    Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN),
    Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN),
)
