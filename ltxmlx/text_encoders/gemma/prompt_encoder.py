"""Prompts -> text embeddings for the transformer: deduplicated, batched, cached on disk.

Gemma and the embeddings processor are loaded on the first cache miss (a run whose prompts are all
cached loads neither) and freed by `close()` / leaving the `with` block, before the diffusion stages
need the memory. `encode_steps` is a generator: the caller evaluates each batch (design rule 1), after
which its rows are written to the cache and Gemma's activations can be released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass

import mlx.core as mx

from ltxmlx.text_encoders.gemma.embeddings_processor import (
    EmbeddingsProcessor,
    TextEmbeddings,
)
from ltxmlx.text_encoders.gemma.encoder import GemmaTextEncoder
from ltxmlx.text_encoders.gemma.prompt_cache import PromptCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodeStep:
    """One Gemma batch: `embeddings` is lazy until the caller evaluates it."""

    index: int
    total: int
    embeddings: TextEmbeddings


class PromptEncoder:
    """load_gemma / load_processor: build the models when first needed.

    identity: covers everything that changes the embeddings (weights, configs, tokenizer, length,
    dtype); it keys the cache. `gemma_prompts` counts the prompts Gemma actually ran on.
    """

    def __init__(
        self,
        load_gemma: Callable[[], GemmaTextEncoder],
        load_processor: Callable[[], EmbeddingsProcessor],
        identity: str,
        cache: PromptCache | None = None,
        batch_size: int = 8,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._load_gemma, self._load_processor = load_gemma, load_processor
        self._gemma: GemmaTextEncoder | None = None
        self._processor: EmbeddingsProcessor | None = None
        self.identity, self.cache, self.batch_size = identity, cache, batch_size
        self.gemma_prompts = 0
        self.gemma_batches = 0

    @property
    def gemma(self) -> GemmaTextEncoder:
        if self._gemma is None:
            self._gemma = self._load_gemma()
        return self._gemma

    @property
    def processor(self) -> EmbeddingsProcessor:
        if self._processor is None:
            self._processor = self._load_processor()
        return self._processor

    def load(self) -> None:
        """Build Gemma and the processor now instead of on the first cache miss (to warm a worker)."""
        _ = self.gemma, self.processor

    def encode_batch(self, prompts: list[str]) -> TextEmbeddings:
        """One fused Gemma + processor forward (graph only): video (B, T, Dv), audio (B, T, Da), mask."""
        states, mask = self.gemma(prompts)
        return self.processor(states, mask)

    def encode_steps(self, prompts: list[str]) -> Generator[EncodeStep, None, list[TextEmbeddings]]:
        """Yield each Gemma batch's lazy embeddings; return one TextEmbeddings (1, T, D) per prompt, in order.

        The caller must evaluate each yielded step before resuming (the runner's evaluation point): its rows
        are then written to the cache. Repeated prompts are encoded once (after stripping, as the
        tokenizer strips them anyway); cached ones are read from disk.
        """
        texts = [p.strip() for p in prompts]
        unique = list(dict.fromkeys(texts))
        done: dict[str, TextEmbeddings] = {}
        if self.cache is not None:
            for p in unique:
                hit = self.cache.get(p)
                if hit is not None:
                    done[p] = hit
        todo = [p for p in unique if p not in done]
        log.info("text: %d prompts, %d unique, %d cached, %d to encode", len(prompts), len(unique), len(done), len(todo))
        total = -(-len(todo) // self.batch_size)
        for index, start in enumerate(range(0, len(todo), self.batch_size)):
            batch = todo[start : start + self.batch_size]
            emb = self.encode_batch(batch)
            yield EncodeStep(index, total, emb)
            self.gemma_prompts += len(batch)
            self.gemma_batches += 1
            for row, p in enumerate(batch):
                one = TextEmbeddings(emb.video[row : row + 1], emb.audio[row : row + 1], emb.mask[row : row + 1])
                if self.cache is not None:
                    self.cache.put(p, one)
                done[p] = one
        return [done[p] for p in texts]

    def close(self) -> None:
        """Drop Gemma and the processor and return their memory to the system."""
        self._gemma = None
        self._processor = None
        mx.clear_cache()

    def __enter__(self) -> "PromptEncoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
