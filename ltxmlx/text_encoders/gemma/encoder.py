"""Prompts -> Gemma hidden states: the tokenizer and the Gemma 3 model together."""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltxmlx.text_encoders.gemma.model import Gemma3TextModel
from ltxmlx.text_encoders.gemma.tokenizer import GemmaTokenizer

# Trimmed batches keep a multiple of this many positions, to limit the number of distinct shapes.
_TRIM_MULTIPLE = 64


def hidden_states(model: Gemma3TextModel, ids: np.ndarray, mask: np.ndarray, trim_padding: bool) -> list[mx.array]:
    """model's states for left-padded (B, T) ids/mask; with trim_padding, computed only on the
    columns some row uses (rounded up to 64) and left-padded back to T with zeros."""
    t = ids.shape[1]
    keep = t
    if trim_padding:
        longest = int(mask.sum(axis=1).max())
        keep = min(t, -(-longest // _TRIM_MULTIPLE) * _TRIM_MULTIPLE)
    states = model(mx.array(ids[:, t - keep :]), mx.array(mask[:, t - keep :]))
    if keep < t:
        states = [mx.pad(s, [(0, 0), (t - keep, 0), (0, 0)]) for s in states]
    return states


class GemmaTextEncoder:
    """identity: hash of weights, config, tokenizer vocabulary, max length and dtype (cache keys).

    trim_padding: run Gemma only on the columns that hold a token in some row of the batch, then
    put the left padding back as zeros. Valid rows see the same keys and the same relative RoPE
    positions, so their states equal the official full-length ones up to float rounding (pad rows
    differ, and are ignored downstream); much faster for short prompts. Off = the official 1024 run.
    """

    def __init__(self, model: Gemma3TextModel, tokenizer: GemmaTokenizer, identity: str, trim_padding: bool = False):
        self.model, self.tokenizer, self.identity = model, tokenizer, identity
        self.trim_padding = trim_padding

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def __call__(self, prompts: list[str]) -> tuple[list[mx.array], mx.array]:
        """One fused forward of the batch -> (num_hidden_layers + 1 arrays (B, T, D), mask (B, T)).

        T = the tokenizer's max_length; rows are left padded (graph only, nothing evaluated).
        """
        ids, mask = self.tokenizer(prompts)
        return hidden_states(self.model, ids, mask, self.trim_padding), mx.array(mask)
