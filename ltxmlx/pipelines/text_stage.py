"""The text stage: the generation's text encoder (Gemma 3 or Gemma 4, `kind`) and its embeddings
processor turn each item's prompts into contexts.

Unique prompts of a batch (and negatives, when stage 1 uses CFG) are encoded once, through the prompt
cache when configured. Gemma is loaded only on a cache miss and freed when the stage exits.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx

from ltxmlx.pipelines.api import RenderItem, StageOutputs, StepEvent
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.models import file_identity, mx_dtype, quantization_key
from ltxmlx.text_encoders import text_encoder_kind
from ltxmlx.text_encoders.gemma.tokenizer import TOKENIZER_MAX_LENGTH


@dataclass
class TextStage:
    """Outputs per item: `context.video` (1, S, Dv), `context.audio` (1, S, Da) and, with
    `negatives`, `context.negative.video` / `context.negative.audio` from the negative prompt."""

    cfg: PipelineConfig
    negatives: bool
    kind: str | None = None  # a key of ltxmlx.text_encoders.TEXT_ENCODERS; None: cfg.text_encoder_kind
    name: str = "text"
    _encoder: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.kind = self.kind or self.cfg.text_encoder_kind or "gemma3"

    @property
    def max_length(self) -> int:
        return self.cfg.text_max_length or TOKENIZER_MAX_LENGTH

    def key_inputs(self, item: RenderItem) -> dict:
        return {
            "stage": self.name, "text_encoder_kind": self.kind, "prompt": item.prompt.strip(),
            "negative_prompt": item.negative_prompt.strip() if self.negatives else None,
            "text_encoder": file_identity(self.cfg.files.text_encoder), "checkpoint": file_identity(self.cfg.files.checkpoint),
            "max_length": self.max_length, "dtype": self.cfg.dtype, **quantization_key(self.cfg),
        }

    def quantized_file(self) -> dict[str, Path]:
        """The quantized-weights cache files of the text encoder and the embeddings processor, by
        component (empty with plain weights)."""
        return text_encoder_kind(self.kind).quantized_files(
            self.cfg.files.text_encoder, self.cfg.files.checkpoint, mx_dtype(self.cfg.dtype),
            self.cfg.quantization, self.cfg.quant_cache_dir)

    def __enter__(self) -> TextStage:
        # Only headers and the tokenizer load here; Gemma itself on the first prompt-cache miss.
        kind = text_encoder_kind(self.kind)
        self._encoder = kind.prompt_encoder(
            self.cfg.files.text_encoder, self.cfg.files.checkpoint, cache_dir=self.cfg.prompt_cache_dir,
            dtype=mx_dtype(self.cfg.dtype), max_length=self.max_length, batch_size=self.cfg.max_batch_size,
            quantization=self.cfg.quantization, quant_cache_dir=self.cfg.quant_cache_dir,
        )
        return self

    def load_models(self) -> None:
        """Build the text encoder and the embeddings processor now (they otherwise load on the first
        prompt-cache miss), e.g. to keep them resident before the first job."""
        if self._encoder is None:
            raise RuntimeError(f"stage {self.name!r} must be entered (with-block) before load_models")
        self._encoder.load()

    def __exit__(self, *exc) -> None:
        if self._encoder is not None:
            self._encoder.close()
        self._encoder = None
        mx.clear_cache()

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        if self._encoder is None:
            raise RuntimeError(f"stage {self.name!r} must be entered (with-block) before run")
        prompts = [item.prompt for item in items]
        if self.negatives:
            prompts += [item.negative_prompt for item in items]
        # Each Gemma batch goes to the runner for evaluation before the encoder caches its rows.
        steps = self._encoder.encode_steps(prompts)
        while True:
            try:
                step = next(steps)
            except StopIteration as stop:
                embeddings = stop.value
                break
            yield StepEvent(self.name, step.index + 1, step.total, step.embeddings)
        outputs = []
        n = len(items)
        for i in range(n):
            pos = embeddings[i]
            out = {"context.video": pos.video, "context.audio": pos.audio}
            if self.negatives:
                neg = embeddings[n + i]
                out.update({"context.negative.video": neg.video, "context.negative.audio": neg.audio})
            outputs.append(out)
        return outputs
