"""A tiny, deterministic random-weight LTX-2.5 model in the official split layout (one file per component).

`ensure_tiny25_checkpoints(cache_dir)` writes, on first use: the transformer file (with its text
connectors, `model_version` 2.5.0 and `gemma_source_checkpoint`), the Gemma 4 packed text encoder with
its text projection and tokenizer, the conv video VAE, the audio VAE + BigVGAN/BWE vocoder file, the
spatial x2 upsampler, the distilled LoRA and the duration head. The architecture flags are those of
LTX-2.5 (gated attention, cross-attention AdaLN, no video feed-forward bias, the keyframe embedding);
the widths are tiny, so a render runs in seconds on a CPU. Keys come from our own modules mapped back
through each component's key ops, so the files load through the normal strict loader.
"""

from __future__ import annotations

import json
from pathlib import Path

from ltxmlx.pipelines import tiny
from ltxmlx.pipelines.tiny import UPSAMPLER_CONFIG, _component_tensors, _write

VERSION = 1
MODEL_VERSION = "2.5.0"
GEMMA_VERSION = "gemma4-12b-ltx-v1"

_TRANSFORMER = {
    **tiny._TRANSFORMER,
    "num_attention_heads": 2, "attention_head_dim": 8, "cross_attention_dim": 16,
    "audio_num_attention_heads": 2, "audio_attention_head_dim": 4, "audio_cross_attention_dim": 8,
    "apply_gated_attention": True, "cross_attention_adaln": True, "caption_proj_before_connector": True,
    "caption_proj_input_norm": False, "caption_projection_first_linear": False,
    "caption_projection_second_linear": False, "connector_num_attention_heads": 2, "connector_attention_head_dim": 8,
    "audio_connector_num_attention_heads": 2, "audio_connector_attention_head_dim": 4,
    "connector_apply_gated_attention": True, "text_encoder_norm_type": "per_token_rms", "ff_bias": False,
    "audio_ff_bias": True, "use_prompt_adaln_single": True, "use_keyframes_abs_pos_embedding": True,
}
_VAE = {**tiny._VAE, "spatial_padding_mode": "zeros"}
_VOCODER_COMMON = {"resblock": "AMP1", "stereo": True, "activation": "snakebeta", "use_tanh_at_final": False,
                   "use_bias_at_final": False, "resblock_kernel_sizes": [3, 7, 11],
                   "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "upsample_initial_channel": 8}
_VOCODER = {
    "vocoder": {**_VOCODER_COMMON, "upsample_rates": [8, 5, 4], "upsample_kernel_sizes": [16, 11, 8]},
    "bwe": {**_VOCODER_COMMON, "upsample_rates": [6, 5, 8], "upsample_kernel_sizes": [12, 11, 16],
            "apply_final_activation": False, "input_sampling_rate": 16000, "output_sampling_rate": 48000,
            "hop_length": 80, "n_fft": 128, "win_size": 128, "num_mels": 64},
}
DURATION_HEAD = {"pooler_hidden_dim": 16, "num_queries": 1, "num_pooler_heads": 2, "mlp_hidden": 24}

TRANSFORMER_CONFIG = {"transformer": _TRANSFORMER}
VAE_CONFIG = {"vae": _VAE}
AUDIO_CONFIG = {"audio_vae": tiny._AUDIO_VAE, "vocoder": _VOCODER}
DURATION_CONFIG = {"transformer": {"cross_attention_dim": _TRANSFORMER["cross_attention_dim"],
                                   "audio_cross_attention_dim": _TRANSFORMER["audio_cross_attention_dim"]},
                   "duration_head": DURATION_HEAD}


def _meta(config: dict, **extra: str) -> dict[str, str]:
    return {"config": json.dumps(config, sort_keys=True), "model_version": MODEL_VERSION, **extra}


def _bare(tensors: dict, prefix: str) -> dict:
    """The split VAE file's spelling: the single file's `vae.` prefix dropped."""
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in tensors.items()}


def ensure_tiny25_checkpoints(cache_dir: str | Path) -> dict[str, Path]:
    """Paths of the tiny LTX-2.5 files under `cache_dir` (written on first use): checkpoint (the
    transformer file), text_encoder, video_vae, audio_vae, spatial_upsampler, distilled_lora, duration_head."""
    from ltxmlx.text_encoders.gemma4.tiny import write_tiny_gemma4

    root = Path(cache_dir).expanduser() / f"ltx25-tiny-v{VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    paths = {
        "checkpoint": root / "ltx-2.5-tiny-distilled-transformer.safetensors",
        "text_encoder": root / "gemma4-tiny-with-proj-ltx-2.5.safetensors",
        "video_vae": root / "ltx-2.5-tiny-video-vae-conv.safetensors",
        "audio_vae": root / "ltx-2.5-tiny-audio-vae.safetensors",
        "spatial_upsampler": root / "ltx-2.5-tiny-latent-spatial-upscaler-x2.safetensors",
        "distilled_lora": root / "ltx-2.5-tiny-distilled-lora.safetensors",
        "duration_head": root / "ltx-2.5-tiny-duration-head.safetensors",
    }
    gemma_source = json.dumps({"ltx_version": MODEL_VERSION, "gemma_version": GEMMA_VERSION})
    writers = {
        "checkpoint": lambda p: _write(p, _component_tensors("transformer", TRANSFORMER_CONFIG)
                                       | _connector_tensors(), _meta(TRANSFORMER_CONFIG, gemma_source_checkpoint=gemma_source)),
        "text_encoder": lambda p: write_tiny_gemma4(p, video_dim=_TRANSFORMER["cross_attention_dim"],
                                                    audio_dim=_TRANSFORMER["audio_cross_attention_dim"],
                                                    gemma_version=GEMMA_VERSION),
        "video_vae": lambda p: _write(p, _bare(_component_tensors("video_encoder", VAE_CONFIG)
                                               | _component_tensors("video_decoder", VAE_CONFIG), "vae."), _meta(VAE_CONFIG)),
        "audio_vae": lambda p: _write(p, _component_tensors("audio_encoder", AUDIO_CONFIG)
                                      | _component_tensors("audio_decoder", AUDIO_CONFIG)
                                      | _component_tensors("vocoder", AUDIO_CONFIG), _meta(AUDIO_CONFIG)),
        "spatial_upsampler": lambda p: _write(p, _component_tensors("spatial_upsampler", UPSAMPLER_CONFIG),
                                              {"config": json.dumps(UPSAMPLER_CONFIG, sort_keys=True)}),
        "distilled_lora": lambda p: _write(p, tiny.lora_tensors(config=TRANSFORMER_CONFIG), {"format": "pt"}),
        "duration_head": lambda p: _write(p, _component_tensors("duration_head", DURATION_CONFIG), _meta(DURATION_CONFIG)),
    }
    for name, path in paths.items():
        if not path.is_file():
            writers[name](path)
    return paths


def _connector_tensors() -> dict:
    """The transformer file's text connectors (the feature extractor lives in the text-encoder file)."""
    from ltxmlx.text_encoders.gemma.embeddings_processor import TEXT_ENCODER_SECTION
    from ltxmlx.text_encoders.gemma4.config import Gemma4TextConfig
    from ltxmlx.text_encoders.gemma4.tiny import tiny_gemma4_config, tiny_tokenizer_json

    vocab = len(json.loads(tiny_tokenizer_json())["model"]["vocab"])
    gemma = Gemma4TextConfig.from_config(tiny_gemma4_config(vocab, GEMMA_VERSION))
    config = {**TRANSFORMER_CONFIG, TEXT_ENCODER_SECTION: {"hidden_size": gemma.hidden_size,
                                                           "num_hidden_states": gemma.num_hidden_states}}
    tensors = _component_tensors("embeddings_processor", config)
    return {k: v for k, v in tensors.items() if k.startswith("model.diffusion_model.")}
