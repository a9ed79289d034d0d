"""Loading the text path from files: Gemma 3 folders, the LTX file's embeddings processor, and
content fingerprints of weight files (the identity of a prompt cache).

A Gemma checkpoint (a Hugging Face folder, a sharded or single safetensors file, or an mlx-community
quantized conversion) keeps its config in `config.json`, not in safetensors metadata, and splits the
weights over shards; `open_gemma_checkpoint` presents it to `ltxmlx.loader.build` like one LTX file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx

from ltxmlx.errors import CheckpointError
from ltxmlx.loader.builder import build, build_cached
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint
from ltxmlx.loader.quant_cache import cache_for, content_fingerprint, entry_files, source_files
from ltxmlx.loader.quantize import quant_mode
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.embeddings_processor import (
    TEXT_ENCODER_SECTION,
    EmbeddingsProcessor,
)
from ltxmlx.text_encoders.gemma.encoder import GemmaTextEncoder
from ltxmlx.text_encoders.gemma.prompt_cache import PromptCache
from ltxmlx.text_encoders.gemma.prompt_encoder import PromptEncoder
from ltxmlx.text_encoders.gemma.tokenizer import (
    TOKENIZER_MAX_LENGTH,
    GemmaTokenizer,
    load_tokenizer,
)

@dataclass
class ShardedCheckpoint(Checkpoint):
    """Several safetensors shards seen as one checkpoint; tensors are read from their own shard."""

    shards: dict[str, Checkpoint] = field(default_factory=dict, repr=False)

    def tensor(self, key: str) -> mx.array:
        if key not in self.shards:
            raise CheckpointError(f"{self.path}: no tensor named {key!r}")
        return self.shards[key].tensor(key)

    def release(self) -> None:
        for shard in self.shards.values():
            shard.release()


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError) as e:
            raise CheckpointError(f"{index}: not a safetensors index ({e})") from e
        files = sorted({folder / name for name in weight_map.values()})
        missing = [str(f.name) for f in files if not f.is_file()]
        if missing:
            raise CheckpointError(f"{folder}: shards listed in {index.name} are missing: {', '.join(missing)}")
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{folder}: no *.safetensors weights (and no model.safetensors.index.json)")
    return files


def open_gemma_checkpoint(path: str | Path) -> ShardedCheckpoint:
    """A Gemma folder (config.json + *.safetensors) or one of its .safetensors files (config.json beside it)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if not path.exists():
        raise CheckpointError(f"{path}: Gemma checkpoint not found")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{folder}: no config.json; a Gemma 3 checkpoint folder needs its Hugging Face config")
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{config_file}: not valid JSON ({e})") from e
    files = _weight_files(folder) if path.is_dir() else [path]
    shards: dict[str, Checkpoint] = {}
    infos = {}
    for f in files:
        ckpt = open_checkpoint(f)
        for key, info in ckpt.infos.items():
            if key in shards:
                raise CheckpointError(f"{folder}: tensor {key!r} is in both {shards[key].path.name} and {f.name}")
            shards[key] = ckpt
            infos[key] = info
    return ShardedCheckpoint(path=path, metadata={"config": config}, infos=infos, shards=shards)


def with_text_encoder_config(path: str | Path | Checkpoint, gemma: Gemma3TextConfig) -> Checkpoint:
    """The LTX single file with the Gemma dims added to its config, for `build("embeddings_processor", ...)`.

    The feature extractor's shape depends on the Gemma model (hidden size, number of hidden states),
    which the LTX file does not record; the official loader reads them from the Gemma folder too.
    """
    ckpt = path if isinstance(path, Checkpoint) else open_checkpoint(path)
    section = {"hidden_size": gemma.hidden_size, "num_hidden_states": gemma.num_hidden_states}
    config = {**ckpt.config, TEXT_ENCODER_SECTION: section}
    return Checkpoint(path=ckpt.path, metadata={**ckpt.metadata, "config": config}, infos=ckpt.infos)


def _gemma_identity(ckpt: Checkpoint, tok: GemmaTokenizer, dtype: mx.Dtype, quantization: str = "none") -> str:
    blob = [fingerprint(ckpt), ckpt.config, tok.identity, tok.max_length, str(dtype)]
    if quant_mode(quantization) is not None:  # plain weights keep their earlier identity
        blob.append(quantization)
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def quantized_gemma_files(folder: str | Path, ltx_file: str | Path, dtype: mx.Dtype, quantization: str,
                          quant_cache_dir: str | Path | None) -> dict[str, Path]:
    """{component: quantized-cache file} that the Gemma and embeddings-processor builds read or write
    (empty: not quantizing or no cache)."""
    if cache_for(quantization, quant_cache_dir) is None:
        return {}
    ckpt = open_gemma_checkpoint(folder)
    processor = with_text_encoder_config(ltx_file, Gemma3TextConfig.from_config(ckpt.config))
    return entry_files({"gemma3": ckpt, "embeddings_processor": processor}, dtype, quantization, quant_cache_dir)


def load_gemma_text_encoder(
    folder: str | Path,
    dtype: mx.Dtype = mx.bfloat16,
    max_length: int = TOKENIZER_MAX_LENGTH,
    tokenizer: str | Path | None = None,
    quantization: str = "none",
    quant_cache_dir: str | Path | None = None,
) -> GemmaTextEncoder:
    """Gemma 3 (bf16 by default; quantized layers as the folder's config says) + its tokenizer.

    tokenizer: a folder or a cached Hugging Face repo id, when the weights folder has no tokenizer files.
    quantization / quant_cache_dir: see `ltxmlx.loader.build`.
    """
    ckpt = open_gemma_checkpoint(folder)
    tok = load_tokenizer(tokenizer if tokenizer is not None else Path(folder), max_length)
    return GemmaTextEncoder(build_cached("gemma3", ckpt, dtype, quantization, quant_cache_dir), tok,
                            _gemma_identity(ckpt, tok, dtype, quantization))


def _processor_identity(ckpt: Checkpoint, dtype: mx.Dtype) -> str:
    section = {k: v for k, v in ckpt.config.get("transformer", {}).items() if "connector" in k or "caption" in k}
    blob = [fingerprint(ckpt), section, ckpt.config.get(TEXT_ENCODER_SECTION), str(dtype)]
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def load_embeddings_processor(
    ltx_file: str | Path, gemma: Gemma3TextConfig, dtype: mx.Dtype = mx.bfloat16
) -> EmbeddingsProcessor:
    """The feature extractor + video/audio connectors of an LTX single file, for this Gemma."""
    return build("embeddings_processor", with_text_encoder_config(ltx_file, gemma), dtype=dtype)


def load_prompt_encoder(
    gemma_folder: str | Path,
    ltx_file: str | Path,
    cache_dir: str | Path | None = None,
    dtype: mx.Dtype = mx.bfloat16,
    max_length: int = TOKENIZER_MAX_LENGTH,
    tokenizer: str | Path | None = None,
    batch_size: int = 8,
    trim_padding: bool = False,
    quantization: str = "none",
    quant_cache_dir: str | Path | None = None,
) -> PromptEncoder:
    """The whole text path from files. Only headers, samples and the tokenizer are read now (for the
    cache identity); Gemma and the processor are built when a prompt misses the cache.
    trim_padding: see `GemmaTextEncoder`; part of the cache identity (the rounding differs).
    quantization / quant_cache_dir: Gemma's and the processor's weights (see `ltxmlx.loader.build`); part
    of the identity."""
    ckpt = open_gemma_checkpoint(gemma_folder)
    gemma_config = Gemma3TextConfig.from_config(ckpt.config)
    tok = load_tokenizer(tokenizer if tokenizer is not None else Path(gemma_folder), max_length)
    ltx = with_text_encoder_config(ltx_file, gemma_config)
    gemma_id = _gemma_identity(ckpt, tok, dtype, quantization)
    identity = hashlib.sha256(f"{gemma_id}:{_processor_identity(ltx, dtype)}:{trim_padding}".encode()).hexdigest()
    return PromptEncoder(
        load_gemma=lambda: GemmaTextEncoder(build_cached("gemma3", ckpt, dtype, quantization, quant_cache_dir), tok,
                                            gemma_id, trim_padding),
        load_processor=lambda: build_cached("embeddings_processor", ltx, dtype, quantization, quant_cache_dir),
        identity=identity,
        cache=PromptCache(cache_dir, identity) if cache_dir is not None else None,
        batch_size=batch_size,
    )


def fingerprint(ckpt: Checkpoint) -> str:
    """A content hash of the weight files behind `ckpt` without reading them whole: each file's size,
    safetensors header and 1 MiB samples from the start, middle and end (seconds for 24 GB)."""
    return content_fingerprint(source_files(ckpt))
