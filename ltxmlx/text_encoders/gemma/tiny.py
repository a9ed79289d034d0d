"""A tiny, deterministic Gemma 3 text encoder for offline runs and tests (no download).

`tiny_gemma_folder(cache_dir)` writes a Hugging Face style folder - config.json, model.safetensors in
the original Gemma 3 key layout, and a real byte-level BPE tokenizer built with `tokenizers` - so that
the tiny model goes through exactly the loaders the real one uses. Same seed, same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

# Bump when the generated folder changes, so stale caches are not reused.
_VERSION = 1
TINY_MAX_LENGTH = 128  # a multiple of the connectors' 128 registers
_SPECIAL = ("<pad>", "<eos>", "<bos>", "<unk>")  # Gemma's ids: pad 0, eos 1, bos 2


def _tokenizer_json() -> str:
    """Byte-level BPE over the 256 byte symbols (no merges): any text tokenizes, offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = {tok: i for i, tok in enumerate(_SPECIAL)}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    # Like Gemma's tokenizer: <bos> first, no <eos>.
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    tok.add_special_tokens(list(_SPECIAL))
    return tok.to_str()


def tiny_gemma_config(vocab_size: int) -> dict:
    """A Gemma 3 config.json: 3 layers (2 sliding, 1 global), hidden 64, 2 heads / 1 KV head."""
    text = {
        "model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "query_pre_attn_scalar": 32,
        "rms_norm_eps": 1e-6, "rope_theta": 1_000_000.0, "rope_local_base_freq": 10_000.0,
        "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "sliding_window": 16,
        "sliding_window_pattern": 3, "vocab_size": vocab_size, "hidden_activation": "gelu_pytorch_tanh",
    }
    return {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "text_config": text,
            "eos_token_id": [1], "torch_dtype": "float32"}


def tiny_gemma_weights(config: dict, seed: int) -> dict[str, np.ndarray]:
    """Fan-in scaled normal weights under the original `language_model.model.` names."""
    t = config["text_config"]
    rng = np.random.default_rng(seed)
    d, f, hd = t["hidden_size"], t["intermediate_size"], t["head_dim"]
    q, kv = t["num_attention_heads"] * hd, t["num_key_value_heads"] * hd

    def linear(out_dim: int, in_dim: int) -> np.ndarray:
        return (rng.standard_normal((out_dim, in_dim)) / np.sqrt(in_dim)).astype(np.float32)

    def norm(n: int) -> np.ndarray:  # Gemma norms scale by (1 + weight)
        return (0.1 * rng.standard_normal(n)).astype(np.float32)

    p = "language_model.model."
    out = {p + "embed_tokens.weight": (rng.standard_normal((t["vocab_size"], d)) / np.sqrt(d)).astype(np.float32)}
    for i in range(t["num_hidden_layers"]):
        L = f"{p}layers.{i}."
        out.update({
            L + "self_attn.q_proj.weight": linear(q, d), L + "self_attn.k_proj.weight": linear(kv, d),
            L + "self_attn.v_proj.weight": linear(kv, d), L + "self_attn.o_proj.weight": linear(d, q),
            L + "self_attn.q_norm.weight": norm(hd), L + "self_attn.k_norm.weight": norm(hd),
            L + "mlp.gate_proj.weight": linear(f, d), L + "mlp.up_proj.weight": linear(f, d),
            L + "mlp.down_proj.weight": linear(d, f),
            L + "input_layernorm.weight": norm(d), L + "post_attention_layernorm.weight": norm(d),
            L + "pre_feedforward_layernorm.weight": norm(d), L + "post_feedforward_layernorm.weight": norm(d),
        })
    out[p + "norm.weight"] = norm(d)
    return out


def tiny_gemma_folder(cache_dir: str | Path, seed: int = 0) -> Path:
    """The tiny Gemma folder under `cache_dir`, written once (atomically) and reused afterwards."""
    cache_dir = Path(cache_dir)
    target = cache_dir / f"tiny-gemma3-v{_VERSION}-seed{seed}"
    if (target / "model.safetensors").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-gemma3-", dir=cache_dir))
    tokenizer = _tokenizer_json()
    vocab_size = len(json.loads(tokenizer)["model"]["vocab"])
    config = tiny_gemma_config(vocab_size)
    (tmp / "tokenizer.json").write_text(tokenizer)
    (tmp / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<bos>", "eos_token": "<eos>",
        "pad_token": "<pad>", "unk_token": "<unk>", "model_max_length": TINY_MAX_LENGTH,
    }, indent=1))
    (tmp / "config.json").write_text(json.dumps(config, indent=1))
    save_file(tiny_gemma_weights(config, seed), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    try:
        os.replace(tmp, target)
    except OSError:
        # Another process finished first: keep its (identical) folder.
        shutil.rmtree(tmp)
        if not (target / "model.safetensors").is_file():
            raise
    return target


def tiny_text_encoder(cache_dir: str | Path, seed: int = 0, dtype=None):
    """The tiny Gemma + tokenizer as a `GemmaTextEncoder` (float32 unless `dtype` is given),
    loaded from `tiny_gemma_folder(cache_dir, seed)` by the same code as the real model."""
    import mlx.core as mx

    from ltxmlx.text_encoders.gemma.loading import load_gemma_text_encoder

    folder = tiny_gemma_folder(cache_dir, seed)
    return load_gemma_text_encoder(folder, dtype=dtype or mx.float32, max_length=TINY_MAX_LENGTH)
