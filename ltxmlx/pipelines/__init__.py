"""Pipelines: stage blocks composed into one-stage, two-stage and distilled renders.

`make_pipeline(cfg)` returns the stages a runner drives; `render(cfg, items)` drives them in memory.
"""

from ltxmlx.pipelines.api import ImageCondition, RenderItem, Stage, StepEvent
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.pipelines.render import RenderResult, render
from ltxmlx.pipelines.validation import validate_items

__all__ = [
    "ImageCondition", "LoraSpec", "ModelFiles", "PipelineConfig", "RenderItem", "RenderResult", "Stage",
    "StepEvent", "make_pipeline", "render", "validate_items",
]
