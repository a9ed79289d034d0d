"""Duration head (LTX-2.5): clip length in seconds / frames predicted from the text connectors' outputs."""

from ltxmlx.model.duration_head.config import DurationHeadConfig
from ltxmlx.model.duration_head.duration_head import AttentionPooler, DurationHead
from ltxmlx.model.duration_head.predict import (
    DEFAULT_CLAMP_SECONDS,
    predict_num_frames,
    predict_seconds,
    seconds_to_num_frames,
    snap_frames,
)

__all__ = [
    "DEFAULT_CLAMP_SECONDS",
    "AttentionPooler",
    "DurationHead",
    "DurationHeadConfig",
    "predict_num_frames",
    "predict_seconds",
    "seconds_to_num_frames",
    "snap_frames",
]
