"""Gemma 3 text path: hidden states, tokenizer, feature extractors, connectors, prompt cache."""

from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.embeddings_processor import (
    EmbeddingsProcessor,
    TextEmbeddings,
)
from ltxmlx.text_encoders.gemma.encoder import GemmaTextEncoder
from ltxmlx.text_encoders.gemma.loading import (
    load_embeddings_processor,
    load_gemma_text_encoder,
    load_prompt_encoder,
    open_gemma_checkpoint,
    with_text_encoder_config,
)
from ltxmlx.text_encoders.gemma.model import Gemma3TextModel
from ltxmlx.text_encoders.gemma.prompt_cache import PromptCache
from ltxmlx.text_encoders.gemma.prompt_encoder import PromptEncoder
from ltxmlx.text_encoders.gemma.tiny import (
    TINY_MAX_LENGTH,
    tiny_gemma_folder,
    tiny_text_encoder,
)
from ltxmlx.text_encoders.gemma.tokenizer import (
    TOKENIZER_MAX_LENGTH,
    GemmaTokenizer,
    load_tokenizer,
)

__all__ = [
    "TINY_MAX_LENGTH",
    "TOKENIZER_MAX_LENGTH",
    "EmbeddingsProcessor",
    "Gemma3TextConfig",
    "Gemma3TextModel",
    "GemmaTextEncoder",
    "GemmaTokenizer",
    "PromptCache",
    "PromptEncoder",
    "TextEmbeddings",
    "load_embeddings_processor",
    "load_gemma_text_encoder",
    "load_prompt_encoder",
    "load_tokenizer",
    "open_gemma_checkpoint",
    "tiny_gemma_folder",
    "tiny_text_encoder",
    "with_text_encoder_config",
]
