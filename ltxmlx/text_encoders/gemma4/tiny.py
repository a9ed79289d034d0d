"""A tiny, deterministic packed Gemma 4 text-encoder file in the official LTX-2.5 layout.

`write_tiny_gemma4(path, video_dim=..., audio_dim=...)` writes what the official packer writes for
the real encoder - the Comfy-flat language model (`model.*`), the text projection sized for the
given connector widths, the tokenizer and its tokenizer_config.json / processor_config.json as
uint8 byte tensors, metadata `format` and `gemma_config` (with `gemma_version`) - so that tests and
offline runs go through exactly the loaders the real file uses. Same arguments, same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

# The gemma_version the LTX-2.5 transformer declares in `gemma_source_checkpoint`.
GEMMA4_LTX_VERSION = "gemma4-12b-ltx-v1"
TINY_MAX_LENGTH = 128  # a multiple of the connectors' 128 registers
# Gemma's ids: pad 0, eos 1, bos 2; then the multimodal placeholders the model embeds as <pad>.
_SPECIAL = ("<pad>", "<eos>", "<bos>", "<unk>", "<|image|>", "<|video|>", "<|audio|>")


def tiny_tokenizer_json() -> str:
    """Byte-level BPE over the 256 byte symbols (no merges), no post-processor: like Gemma 4's
    tokenizer it adds no <bos> itself (the encoder prepends it)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(_SPECIAL)}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(_SPECIAL))
    return tok.to_str()


def tiny_gemma4_config(vocab_size: int, gemma_version: str) -> dict:
    """A gemma4_unified config: 4 layers (3 sliding, 1 full), hidden 64, head_dim 16 / global 32."""
    text = {
        "model_type": "gemma4_unified_text", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 4,
        "num_attention_heads": 2, "num_key_value_heads": 1, "num_global_key_value_heads": 1, "head_dim": 16,
        "global_head_dim": 32, "attention_k_eq_v": True, "attention_bias": False, "rms_norm_eps": 1e-6,
        "hidden_activation": "gelu_pytorch_tanh", "sliding_window": 16, "vocab_size": vocab_size,
        "vocab_size_per_layer_input": vocab_size, "hidden_size_per_layer_input": 0, "num_kv_shared_layers": 0,
        "enable_moe_block": False, "use_double_wide_mlp": False, "use_bidirectional_attention": "vision",
        "final_logit_softcapping": 30.0, "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2,
        "tie_word_embeddings": True,
        "layer_types": ["sliding_attention"] * 3 + ["full_attention"],
        "rope_parameters": {
            "full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1_000_000.0, "rope_type": "proportional"},
            "sliding_attention": {"rope_theta": 10_000.0, "rope_type": "default"},
        },
    }
    return {
        "architectures": ["Gemma4UnifiedForConditionalGeneration"], "model_type": "gemma4_unified",
        "gemma_version": gemma_version, "dtype": "float32", "tie_word_embeddings": True,
        "image_token_id": _SPECIAL.index("<|image|>"), "video_token_id": _SPECIAL.index("<|video|>"),
        "audio_token_id": _SPECIAL.index("<|audio|>"), "vision_config": None, "audio_config": None,
        "text_config": text,
    }


def tiny_gemma4_tensors(config: dict, video_dim: int, audio_dim: int, seed: int) -> dict[str, np.ndarray]:
    """Fan-in scaled normal weights under the packed file's names (LM + text projection)."""
    t = config["text_config"]
    rng = np.random.default_rng(seed)
    d, f, heads = t["hidden_size"], t["intermediate_size"], t["num_attention_heads"]

    def linear(out_dim: int, in_dim: int) -> np.ndarray:
        return (rng.standard_normal((out_dim, in_dim)) / np.sqrt(in_dim)).astype(np.float32)

    def norm(n: int) -> np.ndarray:  # Gemma 4 norms scale by the weight itself
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    out = {"model.embed_tokens.weight": (rng.standard_normal((t["vocab_size"], d)) / np.sqrt(d)).astype(np.float32)}
    for i, kind in enumerate(t["layer_types"]):
        full = kind == "full_attention"
        hd = t["global_head_dim"] if full else t["head_dim"]
        kv = (t["num_global_key_value_heads"] if full else t["num_key_value_heads"]) * hd
        L = f"model.layers.{i}."
        out.update({
            L + "self_attn.q_proj.weight": linear(heads * hd, d), L + "self_attn.k_proj.weight": linear(kv, d),
            L + "self_attn.o_proj.weight": linear(d, heads * hd),
            L + "self_attn.q_norm.weight": norm(hd), L + "self_attn.k_norm.weight": norm(hd),
            L + "mlp.gate_proj.weight": linear(f, d), L + "mlp.up_proj.weight": linear(f, d),
            L + "mlp.down_proj.weight": linear(d, f),
            L + "input_layernorm.weight": norm(d), L + "post_attention_layernorm.weight": norm(d),
            L + "pre_feedforward_layernorm.weight": norm(d), L + "post_feedforward_layernorm.weight": norm(d),
            L + "layer_scalar": rng.uniform(0.5, 1.0, (1,)).astype(np.float32),
        })
        if not full:  # full-attention layers take their values from k_proj
            out[L + "self_attn.v_proj.weight"] = linear(kv, d)
    out["model.norm.weight"] = norm(d)
    flat = d * (t["num_hidden_layers"] + 1)
    for name, width in (("video", video_dim), ("audio", audio_dim)):
        out[f"text_embedding_projection.{name}_aggregate_embed.weight"] = linear(width, flat)
        bias = (0.01 * rng.standard_normal(width)).astype(np.float32)
        out[f"text_embedding_projection.{name}_aggregate_embed.bias"] = bias
    return out


_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}


def _safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors encoding with keys in sorted order (the library's writer orders metadata
    keys differently from one process to the next, which would make the bytes vary)."""
    header: dict = {"__metadata__": dict(sorted(metadata.items()))}
    offset, blobs = 0, []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<"), copy=False)
        header[name] = {"dtype": _DTYPES[data.dtype], "shape": list(data.shape),
                        "data_offsets": [offset, offset + data.nbytes]}
        blobs.append(data.tobytes())
        offset += data.nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return len(head).to_bytes(8, "little") + head + b"".join(blobs)


def _as_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8).copy()


def write_tiny_gemma4(
    path: str | Path,
    *,
    video_dim: int,
    audio_dim: int,
    seed: int = 0,
    gemma_version: str = GEMMA4_LTX_VERSION,
) -> Path:
    """Write the tiny packed text-encoder file at `path` (atomically) and return it.

    video_dim / audio_dim: the transformer's video and audio widths (its connector dims), which
    size `text_embedding_projection.{video,audio}_aggregate_embed`.
    """
    path = Path(path)
    tokenizer = tiny_tokenizer_json()
    config = tiny_gemma4_config(len(json.loads(tokenizer)["model"]["vocab"]), gemma_version)
    tensors = tiny_gemma4_tensors(config, video_dim, audio_dim, seed)
    tensors["tokenizer_json"] = _as_bytes(tokenizer)
    tensors["hf_asset__tokenizer_config.json"] = _as_bytes(json.dumps(
        {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}, sort_keys=True))
    tensors["hf_asset__processor_config.json"] = _as_bytes(json.dumps({"processor_class": "Gemma4UnifiedProcessor"}))
    metadata = {"format": "pt", "gemma_config": json.dumps(config, sort_keys=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tiny-gemma4-", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    try:
        Path(tmp).write_bytes(_safetensors_bytes(tensors, metadata))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
