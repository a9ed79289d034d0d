"""Gemma 4 text path of LTX-2.5: the packed text-encoder file (language model, text projection,
tokenizer, config), hidden states, the (transformer, text encoder) embeddings processor."""

from ltxmlx.text_encoders.gemma4.assets import PackedAssets
from ltxmlx.text_encoders.gemma4.config import Gemma4TextConfig
from ltxmlx.text_encoders.gemma4.loading import (
    check_packed_pair,
    embeddings_processor_checkpoint,
    load_gemma4_embeddings_processor,
    load_gemma4_prompt_encoder,
    load_gemma4_text_encoder,
    open_gemma4_checkpoint,
)
from ltxmlx.text_encoders.gemma4.model import Gemma4TextModel

__all__ = [
    "Gemma4TextConfig",
    "Gemma4TextModel",
    "PackedAssets",
    "check_packed_pair",
    "embeddings_processor_checkpoint",
    "load_gemma4_embeddings_processor",
    "load_gemma4_prompt_encoder",
    "load_gemma4_text_encoder",
    "open_gemma4_checkpoint",
]
