"""Input files checked before any model loads: weight files (header, what they hold), LoRAs against
the model's key set (from the checkpoint header), conditioning images (decoded).

Only files already on this machine are opened: local paths, the tiny model, and Hub files when
offline (an online Hub file is downloaded by the run, then checked by the loader).
Every problem raises an LtxmlxError naming the config key the user set.
"""

from __future__ import annotations

from pathlib import Path

from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import CheckpointError, ConfigError, LtxmlxError
from ltxmlx.generations import GENERATIONS, for_model_version
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint, require_contents
from ltxmlx.loader.lora import check_lora_fits
from ltxmlx.media.images import ImageInputError, load_image
from ltxmlx.weights import MissingWeightsError, parse, resolve

# Weight field -> the component its file must hold (folders, like the text encoder, are not listed).
FIELD_CONTENTS = {
    "checkpoint": "transformer",
    "video_vae": "video VAE",
    "audio_vae": "audio VAE",
    "duration_head": "duration head",
    "spatial_upsampler": "latent upsampler",
    "distilled_lora": "LoRA",
}


def _local(spec: str, cfg: RunConfig) -> Path | None:
    """The file of `spec` if it is (or must be) on this machine; raises MissingWeightsError when absent,
    except in a dry run, which plans without the weights (None)."""
    ref = parse(spec)
    if ref.kind in ("local", "tiny") or (ref.kind.startswith("hf") and cfg.paths.hf_offline):
        try:
            return resolve(spec, cfg.paths.cache, offline=cfg.paths.hf_offline, download=False)
        except MissingWeightsError:
            if cfg.runner.dry_run:
                return None
            raise
    return None


def _open(key: str, path: Path, component: str) -> Checkpoint:
    try:
        ckpt = open_checkpoint(path)
        require_contents(ckpt, component, key)
    except CheckpointError as e:
        raise CheckpointError(f"{key}: {e}") from e
    return ckpt


def check_weight_files(cfg: RunConfig) -> None:
    model = None
    for field, component in FIELD_CONTENTS.items():
        spec = getattr(cfg.model, field)
        path = _local(spec, cfg) if spec else None
        if path is not None:
            ckpt = _open(f"model.{field}", path, component)
            if field == "checkpoint":
                model = ckpt
            if field == "video_vae":
                _check_video_decoder(cfg, ckpt)
    if model is not None:
        _check_generation(cfg, model)
    text_encoder = _local(cfg.model.text_encoder, cfg) if cfg.model.text_encoder else None
    if text_encoder is not None and model is not None:
        # A Gemma 3 folder for LTX-2.5 (or the reverse) and a Gemma 4 of another version stop here.
        from ltxmlx.text_encoders import text_encoder_kind

        try:
            text_encoder_kind(GENERATIONS[cfg.model.version].text_encoder).check(text_encoder, model.path)
        except LtxmlxError as e:
            raise CheckpointError(f"model.text_encoder: {e}") from e
    for i, lora in enumerate(cfg.lora.stack):
        path = _local(lora.weights, cfg)
        if path is None:
            continue
        key = f"lora.stack.{i}.weights"
        ckpt = _open(key, path, "LoRA")
        if model is not None:
            try:
                check_lora_fits(ckpt, model)
            except CheckpointError as e:
                raise CheckpointError(f"{key}: {e}") from e


def _check_video_decoder(cfg: RunConfig, ckpt: Checkpoint) -> None:
    """model.video_decoder names the decoder the video VAE file holds (conv or diffusion)."""
    from ltxmlx.model.video_vae.diffusion.config import video_decoder_kind

    vae = ckpt.metadata.get("config")
    if not isinstance(vae, dict):
        return
    kind = video_decoder_kind(vae)
    if kind != cfg.model.video_decoder:
        raise ConfigError("model.video_decoder", cfg.model.video_decoder,
                          f"{kind}: model.video_vae {str(ckpt.path)!r} holds the {kind} decoder; give the other "
                          f"video VAE file of this generation for the {cfg.model.video_decoder} decoder")


def _check_generation(cfg: RunConfig, ckpt: Checkpoint) -> None:
    """The transformer file is the generation `model.version` names (e.g. no 2.3 single file as 2.5)."""
    version = ckpt.metadata.get("model_version")
    if version is None:
        return
    found = for_model_version(str(version))
    if found.name != cfg.model.version:
        raise ConfigError("model.version", cfg.model.version,
                          f"{found.name}: model.checkpoint {str(ckpt.path)!r} is {found.title} "
                          f"(model_version {version}); pick that model or give the LTX-{cfg.model.version} files")


def check_images(cfg: RunConfig) -> None:
    """Every conditioning image exists and decodes as an image."""
    for s, cond in enumerate(cfg.conditioning):
        for i, img in enumerate(cond.images):
            try:
                load_image(img.path)
            except ImageInputError as e:
                raise ConfigError(f"conditioning.{s}.images.{i}.path", img.path, f"an image file ({e})") from e
