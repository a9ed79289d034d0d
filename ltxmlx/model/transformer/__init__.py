"""LTX audio-video diffusion transformer."""

from ltxmlx.model.transformer.attention import Attention
from ltxmlx.model.transformer.config import TransformerConfig
from ltxmlx.model.transformer.feed_forward import FeedForward
from ltxmlx.model.transformer.modality import Modality
from ltxmlx.model.transformer.model import LTXModel
from ltxmlx.model.transformer.perturbations import (
    MODALITY_ISOLATION,
    BatchPerturbations,
    BlockPerturbations,
    Perturbation,
    PerturbationType,
)
from ltxmlx.model.transformer.transformer_args import StreamArgs

__all__ = [
    "Attention",
    "BatchPerturbations",
    "BlockPerturbations",
    "FeedForward",
    "LTXModel",
    "MODALITY_ISOLATION",
    "Modality",
    "Perturbation",
    "PerturbationType",
    "StreamArgs",
    "TransformerConfig",
]
