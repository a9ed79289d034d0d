"""Loading the LTX-2.5 text path: the packed Gemma 4 file and the (transformer, text encoder) pair.

The packed text-encoder file holds the Gemma 4 language model (Comfy-flat `model.*` keys), the text
projection (`text_embedding_projection.*`, feature extractor V2), the tokenizer bytes and the HF
config as metadata `gemma_config`. The embeddings processor is assembled as the official loader
does: config from the transformer file, feature extractor from the text-encoder file, connectors
(`model.diffusion_model.{video,audio}_embeddings_connector.*`) from the transformer file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mlx.core as mx

from ltxmlx.errors import CheckpointError
from ltxmlx.loader.builder import build, build_cached
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint
from ltxmlx.loader.quant_cache import cache_for, entry_files
from ltxmlx.text_encoders.compat import check_gemma_version
from ltxmlx.text_encoders.gemma.embeddings_processor import (
    TEXT_ENCODER_SECTION,
    EmbeddingsProcessor,
)
from ltxmlx.text_encoders.gemma.encoder import GemmaTextEncoder
from ltxmlx.text_encoders.gemma.loading import ShardedCheckpoint, fingerprint
from ltxmlx.text_encoders.gemma.prompt_cache import PromptCache
from ltxmlx.text_encoders.gemma.prompt_encoder import PromptEncoder
from ltxmlx.text_encoders.gemma.tokenizer import TOKENIZER_MAX_LENGTH, GemmaTokenizer
from ltxmlx.text_encoders.gemma4.assets import GEMMA_CONFIG_KEY, TOKENIZER_JSON_KEY, PackedAssets
from ltxmlx.text_encoders.gemma4.config import Gemma4TextConfig

PROJECTION_PREFIX = "text_embedding_projection."
CONNECTOR_PREFIXES = (
    "model.diffusion_model.video_embeddings_connector.",
    "model.diffusion_model.audio_embeddings_connector.",
)
_NESTED_LM_PREFIX = "model.language_model."


def open_gemma4_checkpoint(path: str | Path) -> Checkpoint:
    """The packed text-encoder file with its `gemma_config` as the model config (headers only)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder; the Gemma 4 text encoder is one packed .safetensors file "
            "(e.g. gemma4-12b-with-proj-ltx-2.5-bf16.safetensors)"
        )
    ckpt = open_checkpoint(path)
    config = ckpt.metadata.get(GEMMA_CONFIG_KEY)
    if not isinstance(config, dict):
        beside = path.parent / "config.json"
        hint = f" ({beside.name} beside it suggests a Hugging Face Gemma folder)" if beside.is_file() else ""
        raise CheckpointError(
            f"{path}: no {GEMMA_CONFIG_KEY!r} metadata, so not a packed Gemma 4 text-encoder file{hint}"
        )
    if any(k.startswith(_NESTED_LM_PREFIX) for k in ckpt.infos):
        raise CheckpointError(
            f"{path}: language model under {_NESTED_LM_PREFIX!r} (Hugging Face layout); only the packed "
            "Comfy-flat layout (model.layers.<i>.*) written by the official packer is supported"
        )
    return Checkpoint(path=ckpt.path, metadata={**ckpt.metadata, "config": config}, infos=ckpt.infos)


def check_packed_pair(text_encoder: str | Path, transformer: str | Path) -> tuple[Checkpoint, Checkpoint]:
    """Headers-only checks of an LTX-2.5 (text encoder, transformer) pair -> (TE view, transformer).

    Refuses a file that is not a packed Gemma 4 encoder with its projection and tokenizer, a config
    the port does not support, a transformer without text connectors, and a Gemma version mismatch.
    """
    te = open_gemma4_checkpoint(text_encoder)
    Gemma4TextConfig.from_config(te.config)
    for key in (TOKENIZER_JSON_KEY, PROJECTION_PREFIX + "video_aggregate_embed.weight"):
        if key not in te:
            raise CheckpointError(
                f"{te.path}: no {key!r} tensor; LTX-2.5 needs the Gemma 4 encoder packed with its "
                "tokenizer and text projection ('with proj')"
            )
    tr = open_checkpoint(transformer)
    if not any(k.startswith(CONNECTOR_PREFIXES[0]) for k in tr.infos):
        raise CheckpointError(
            f"{tr.path}: no {CONNECTOR_PREFIXES[0]}* tensors; the LTX-2.5 transformer file carries the text connectors"
        )
    check_gemma_version(tr.metadata, te.config, te.path, tr.path)
    return te, tr


def embeddings_processor_checkpoint(text_encoder: str | Path | Checkpoint, transformer: str | Path | Checkpoint):
    """A two-file view for `build("embeddings_processor", ...)`: the transformer's config (plus the
    Gemma dims from the text encoder's config) and tensors, and the text encoder's projection."""
    te = text_encoder if isinstance(text_encoder, Checkpoint) else open_gemma4_checkpoint(text_encoder)
    tr = transformer if isinstance(transformer, Checkpoint) else open_checkpoint(transformer)
    gemma = Gemma4TextConfig.from_config(te.config)
    config = {**tr.config,
              TEXT_ENCODER_SECTION: {"hidden_size": gemma.hidden_size, "num_hidden_states": gemma.num_hidden_states}}
    shards: dict[str, Checkpoint] = {k: tr for k in tr.infos}
    shards.update({k: te for k in te.infos if k.startswith(PROJECTION_PREFIX)})
    infos = {k: c.infos[k] for k, c in shards.items()}
    return ShardedCheckpoint(path=tr.path, metadata={**tr.metadata, "config": config}, infos=infos, shards=shards)


def _identity(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def load_gemma4_text_encoder(
    path: str | Path, dtype: mx.Dtype = mx.bfloat16, max_length: int = TOKENIZER_MAX_LENGTH
) -> GemmaTextEncoder:
    """Gemma 4 (bf16 by default) + the tokenizer embedded in the packed file."""
    te = open_gemma4_checkpoint(path)
    tok = PackedAssets.read(te.path).tokenizer(max_length)
    identity = _identity(fingerprint(te), te.config, tok.identity, tok.max_length, str(dtype))
    return GemmaTextEncoder(build("gemma4", te, dtype=dtype), tok, identity)


def load_gemma4_embeddings_processor(
    text_encoder: str | Path, transformer: str | Path, dtype: mx.Dtype = mx.bfloat16
) -> EmbeddingsProcessor:
    """Feature extractor V2 (text-encoder file) + connectors (transformer file), after the version check."""
    te, tr = check_packed_pair(text_encoder, transformer)
    return build("embeddings_processor", embeddings_processor_checkpoint(te, tr), dtype=dtype)


def quantized_gemma4_files(text_encoder: str | Path, transformer: str | Path, dtype: mx.Dtype, quantization: str,
                           quant_cache_dir: str | Path | None) -> dict[str, Path]:
    """{component: quantized-cache file} that the Gemma 4 and embeddings-processor builds read or write
    (empty: not quantizing or no cache)."""
    if cache_for(quantization, quant_cache_dir) is None:
        return {}
    te = open_gemma4_checkpoint(text_encoder)
    view = embeddings_processor_checkpoint(te, transformer)
    return entry_files({"gemma4": te, "embeddings_processor": view}, dtype, quantization, quant_cache_dir)


def load_gemma4_prompt_encoder(
    text_encoder: str | Path,
    transformer: str | Path,
    *,
    cache_dir: str | Path | None = None,
    dtype: mx.Dtype = mx.bfloat16,
    max_length: int = TOKENIZER_MAX_LENGTH,
    batch_size: int = 8,
    trim_padding: bool = False,
    quantization: str = "none",
    quant_cache_dir: str | Path | None = None,
) -> PromptEncoder:
    """The LTX-2.5 text path from its two files. Only headers, samples and the tokenizer are read
    now (checks and the cache identity); Gemma 4 and the processor load on the first cache miss,
    Gemma 4 quantized while loading when `quantization` asks (through the quantized-weights cache)."""
    te, tr = check_packed_pair(text_encoder, transformer)
    tok: GemmaTokenizer = PackedAssets.read(te.path).tokenizer(max_length)
    view = embeddings_processor_checkpoint(te, tr)
    gemma_id = _identity(fingerprint(te), te.config, tok.identity, tok.max_length, str(dtype), quantization)
    connectors = {k: v for k, v in view.config["transformer"].items() if "connector" in k or "caption" in k}
    processor_id = _identity(fingerprint(view), connectors, view.config[TEXT_ENCODER_SECTION], str(dtype))
    identity = _identity("gemma4", gemma_id, processor_id, trim_padding)
    return PromptEncoder(
        load_gemma=lambda: GemmaTextEncoder(build_cached("gemma4", te, dtype, quantization, quant_cache_dir), tok,
                                            gemma_id, trim_padding),
        load_processor=lambda: build_cached("embeddings_processor", view, dtype, quantization, quant_cache_dir),
        identity=identity,
        cache=PromptCache(cache_dir, identity) if cache_dir is not None else None,
        batch_size=batch_size,
    )
