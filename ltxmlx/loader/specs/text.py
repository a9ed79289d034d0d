"""Text path: Gemma 3 (a Hugging Face folder, config from config.json), Gemma 4 (the packed LTX-2.5
text-encoder file, config from its `gemma_config` metadata) and the embeddings processor (feature
extractor + video/audio connectors from the LTX single file, or from the LTX-2.5 file pair)."""

from __future__ import annotations

from mlx import nn

from ltxmlx.errors import ConfigError
from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig, QuantizationConfig
from ltxmlx.text_encoders.gemma.embeddings_processor import (
    TEXT_ENCODER_SECTION,
    EmbeddingsProcessor,
    EmbeddingsProcessorConfig,
)
from ltxmlx.text_encoders.gemma.model import Gemma3TextModel
from ltxmlx.text_encoders.gemma4.config import Gemma4TextConfig
from ltxmlx.text_encoders.gemma4.model import Gemma4TextModel

# Original Gemma 3 checkpoints and mlx-community conversions store the language model under
# `language_model.model.`; transformers-5 saves use `model.language_model.`. Vision tower,
# multimodal projector and a stored lm_head (tied to embed_tokens) fall outside these prefixes.
_GEMMA3_PREFIXES = {"language_model.model.": "", "model.language_model.": ""}
# Text-only (`gemma3_text`) files keep the layers directly under `model.`.
_GEMMA3_TEXT_PREFIXES = {"model.": ""}


def _gemma_prefixes(config: dict) -> dict[str, str]:
    return _GEMMA3_TEXT_PREFIXES if config.get("model_type") == "gemma3_text" else _GEMMA3_PREFIXES


def _gemma_key_ops(config: dict) -> KeyOps:
    return KeyOps(prefix=_gemma_prefixes(config))


def make_gemma3(config: dict) -> nn.Module:
    """Gemma 3 text model from a config.json dict; quantized layers where the config says so."""
    model = Gemma3TextModel(Gemma3TextConfig.from_config(config))
    quant = QuantizationConfig.from_config(config, tuple(_gemma_prefixes(config)))
    if quant is not None:
        nn.quantize(model, group_size=quant.group_size, bits=quant.bits, class_predicate=quant.predicate())
    return model


# The packed Gemma 4 file: the Comfy-flat language model under `model.`; the text projection belongs to
# the embeddings processor; the multimodal embedders (Comfy and legacy HF spellings) are not used to
# encode text, and the tokenizer / sidecar files are uint8 byte tensors.
_GEMMA4_KEY_OPS = KeyOps(
    exclude=(r"^text_embedding_projection\.",),
    ignore=(
        r"^(multi_modal_projector|vision_model|audio_projector)\.",
        r"^model\.(embed_vision|embed_audio|vision_embedder)\.",
        r"^tokenizer_json$",
        r"^hf_asset__",
    ),
    renames=((r"^model\.", ""),),
)


def make_gemma4(config: dict) -> nn.Module:
    """Gemma 4 unified language model from the packed file's `gemma_config`."""
    return Gemma4TextModel(Gemma4TextConfig.from_config(config))


_EMBEDDINGS_KEY_OPS = KeyOps(
    prefix={
        "text_embedding_projection.": "feature_extractor.",
        "model.diffusion_model.video_embeddings_connector.": "video_connector.",
        "model.diffusion_model.audio_embeddings_connector.": "audio_connector.",
    }
)


def make_embeddings_processor(config: dict) -> nn.Module:
    """From an LTX single-file config extended with the Gemma dims (`with_text_encoder_config`)."""
    te = config.get(TEXT_ENCODER_SECTION)
    if not isinstance(te, dict):
        raise ConfigError(
            TEXT_ENCODER_SECTION, te,
            "the Gemma hidden size and state count; open the LTX file with "
            "ltxmlx.text_encoders.gemma.with_text_encoder_config(path, gemma_config)",
        )
    cfg = EmbeddingsProcessorConfig.from_config(config, int(te["hidden_size"]), int(te["num_hidden_states"]))
    return EmbeddingsProcessor(cfg)


SPECS = {
    "gemma3": ComponentSpec("gemma3", _gemma_key_ops, make_gemma3),
    "gemma4": ComponentSpec("gemma4", _GEMMA4_KEY_OPS, make_gemma4),
    "embeddings_processor": ComponentSpec("embeddings_processor", _EMBEDDINGS_KEY_OPS, make_embeddings_processor),
}
