"""Parity runner for the end-to-end pipeline cases.

The stages come from `make_pipeline` (the renderer's code path) with the case's recorded noise and
preprocessed images injected; the text stage is skipped because the contexts are case inputs. Every
intermediate is read from the stages' StepEvents and outputs.

Two recording formats are read: the mirrored pipelines (`noise.stageN.<modality>`, outputs
`stageN.stepK.*`) and the official `__call__` recordings (`noise.gaussian.<i>` in draw order, outputs
`stageN.evalK.*` with the evaluation's `step_index` and `sigma`).
"""

from __future__ import annotations

import re

import mlx.core as mx

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.components.patchifiers import AudioPatchifier
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.errors import LtxmlxError
from ltxmlx.loader import build
from ltxmlx.model.audio_vae import encode_audio
from ltxmlx.pipelines.api import AudioInput, ImageCondition, ReferenceVideo, RenderItem, SourceVideo
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.pipelines.ic_lora import reference_scales
from ltxmlx.runner.render import run_stage

_KINDS = {"dev": "two_stage", "i2v": "two_stage", "distilled": "distilled", "keyframe": "keyframe_interpolation",
          "ic_lora": "ic_lora", "a2v": "a2v", "retake": "retake", "hq_res2s": "two_stage_hq"}
_STAGE_INDEX = {"stage1": 0, "stage2": 1}


def _guider(p: dict | str | None) -> GuiderParams | None:
    if not isinstance(p, dict):  # absent, or a note that the pipeline does not guide this modality
        return None
    return GuiderParams(cfg_scale=p["cfg_scale"], stg_scale=p["stg_scale"], stg_blocks=tuple(p["stg_blocks"]),
                        rescale_scale=p["rescale_scale"], modality_scale=p["modality_scale"],
                        skip_step=p["skip_step"])


def _role(path) -> str:
    """What a case checkpoint holds, read from its own metadata (never from its name)."""
    ckpt = open_checkpoint(path)
    cfg = ckpt.metadata.get("config")
    if not isinstance(cfg, dict):
        return "ic_lora" if "reference_downscale_factor" in ckpt.metadata else "lora"
    if "duration_head" in cfg:
        return "duration_head"
    if "transformer" in cfg:
        return "checkpoint"
    if "vae" in cfg:
        return "video_vae"
    if "audio_vae" in cfg:
        return "audio_vae"
    return "spatial_upsampler" if cfg.get("spatial_upsample") else "temporal_upsampler"


def case_files(case) -> dict[str, str]:
    """{role: path} of the case's checkpoints (a single file plays every role its config names)."""
    roles: dict[str, str] = {}
    for i in range(len(case.checkpoints)):
        path = str(case.checkpoint_path(i))
        roles.setdefault(_role(path), path)
    return roles


def _text_encoder(case) -> str:
    """A text encoder of the case's generation from its fixture set (the contexts are inputs, so it is
    only checked, never run): a packed file carrying `gemma_config` in the generation's folder, else
    the common Gemma 3 folder."""
    for path in sorted((case.root / str(case.generation)).glob("*.safetensors")):
        if "gemma_config" in open_checkpoint(path).metadata:
            return str(path)
    return str(case.root / "common" / "tiny_gemma3")


def pipeline_config(case) -> PipelineConfig:
    p = case.config["pipeline"]
    lora = p.get("distilled_lora")
    roles = case_files(case)
    if lora and "strength_stage_1" in lora:
        extra_lora = {"distilled_lora_stage_strengths": (float(lora["strength_stage_1"]),
                                                        float(lora["strength_stage_2"]))}
        lora = {**lora, "strength": 1.0}
    else:
        extra_lora = {}
    files = ModelFiles(
        checkpoint=roles["checkpoint"],
        text_encoder=_text_encoder(case),
        spatial_upsampler=roles.get("spatial_upsampler"),
        distilled_lora=LoraSpec(roles["lora"], float(lora["strength"])) if lora else None,
        video_vae=roles.get("video_vae"), audio_vae=roles.get("audio_vae"),
    )
    extra = {k: tuple(p[k]) for k in ("stage1_sigmas", "stage2_sigmas") if k in p} | extra_lora
    if "sigmas" in p:  # a one-stage pipeline
        extra["stage1_sigmas"] = tuple(p["sigmas"])
    if "ic_lora" in p:
        extra["loras"] = (LoraSpec(str(case.root / p["ic_lora"]["file"]), float(p["ic_lora"]["strength"])),)
        extra["reference_attention"] = float(p.get("conditioning_attention_strength", 1.0))
    return PipelineConfig(
        kind=_KINDS[p["kind"]], files=files, height=p["height"], width=p["width"], num_frames=p["num_frames"],
        fps=p["frame_rate"], steps=p.get("num_inference_steps"), video_guider=_guider(p.get("video_guider_params")),
        audio_guider=_guider(p.get("audio_guider_params")), max_batch_size=p.get("max_batch_size", 1), dtype="float32",
        **extra,
    )


def _item(case) -> RenderItem:
    p = case.config["pipeline"]
    images: tuple[ImageCondition, ...] = ()
    if p.get("image_conditioning") is not None:
        cond = p["image_conditioning"]
        images = (ImageCondition("image", cond["frame_idx"], cond["strength"]),)
    for k in p.get("keyframes", ()):
        images += (ImageCondition(k["image"].removeprefix("in."), k["frame_idx"], k["strength"]),)
    references: tuple[ReferenceVideo, ...] = ()
    if "reference.pixels" in case.inputs:
        mask = "reference.attention_mask" if "reference.attention_mask" in case.inputs else None
        references = (ReferenceVideo("reference.pixels", float(p["reference"]["strength"]), mask),)
    audio = AudioInput("audio.waveform") if "audio.waveform" in case.inputs else None
    source = SourceVideo("source", p["start_time"], p["end_time"]) if "source.pixels" in case.inputs else None
    return RenderItem("case", "", "", int(case.input("seed")), images, references, audio, source)


def _source(case):
    def media(item, source, height, width, num_frames):
        waveform = case.input("source.waveform") if "source.waveform" in case.inputs else None
        rate = int(case.input("source.sampling_rate")) if waveform is not None else 0
        return case.input("source.pixels"), waveform, rate

    return media


def _audio(case):
    def source(item, audio):
        return case.input(audio.path), int(case.input("audio.sampling_rate"))

    return source


def _references(case):
    def source(item, ref, height, width, num_frames):
        pixels = case.input(ref.path)
        if tuple(pixels.shape[-2:]) != (height, width):
            raise LtxmlxError(f"{case.id}: {ref.path} is {pixels.shape[-2:]}, the stage asks for {(height, width)}")
        return pixels, None if ref.mask is None else case.input(ref.mask)

    return source


def _draw_order_noise(case):
    """A NoiseSource handing out `noise.gaussian.<i>` in order, checking each draw's shape."""
    names = sorted((k for k in case.inputs if re.fullmatch(r"noise\.gaussian\.\d+", k)),
                   key=lambda k: int(k.rsplit(".", 1)[1]))
    draws = iter(names)

    def noise(item, stage_index, modality, shape):
        name = next(draws, None)
        if name is None:
            raise LtxmlxError(f"{case.id}: the pipeline drew more noise than the {len(names)} recorded draws")
        value = case.input(name)
        if tuple(value.shape) != tuple(shape):
            raise LtxmlxError(f"{case.id}: {name} has shape {value.shape}, the pipeline drew {tuple(shape)}")
        return mx.array(value)

    return noise


def _res2s_noise(case):
    """An SdeNoise handing out `noise.res2s.<i>` in draw order, checking each draw's shape."""
    names = sorted((k for k in case.inputs if re.fullmatch(r"noise\.res2s\.\d+", k)),
                   key=lambda k: int(k.rsplit(".", 1)[1]))
    draws = iter(names)

    def noise(stage, kind, step, modality, shape):
        name = next(draws, None)
        if name is None:
            raise LtxmlxError(f"{case.id}: res_2s drew more noise than the {len(names)} recorded draws")
        value = case.input(name)
        if tuple(value.shape) != tuple(shape):
            raise LtxmlxError(f"{case.id}: {name} has shape {value.shape}, the sampler drew {tuple(shape)}")
        return mx.array(value)

    return noise if names else None


def _sources(case):
    if "noise.gaussian.0" in case.inputs:
        noise = _draw_order_noise(case)
    else:
        stage_names = {v: k for k, v in _STAGE_INDEX.items()}

        def noise(item, stage_index, modality, shape):
            return mx.array(case.input(f"noise.{stage_names[stage_index]}.{modality}"))

    def images(item, image, height, width):
        # The preprocessed pixels of this image at this stage's size.
        for stage in _STAGE_INDEX:
            name = f"{image.path}.{stage}"
            if name in case.inputs and tuple(case.input(name).shape[-2:]) == (height, width):
                return case.input(name)
        raise LtxmlxError(f"{case.id}: no input {image.path}.stageN of size {height}x{width}")

    return noise, images


def _step_noise(case):
    """A stochastic sampler's recorded draws (`noise.stage1_ancestral.<i>`), consumed in draw order."""
    draws = sorted((k for k in case.inputs if k.startswith("noise.stage1_ancestral.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    order = iter(draws)

    def step_noise(item, stage_index, step, modality, shape):
        return mx.array(case.input(next(order)))

    return step_noise if draws else None


def _contexts(case) -> dict[str, mx.array]:
    out = {}
    for name in ("positive", "negative"):
        for m in ("video", "audio"):
            key = f"context.{name}.{m}"
            if key in case.inputs:
                out[key.replace(".positive", "")] = mx.array(case.input(key))
    return out


def _record_diffusion(out: dict, stage, events, outputs, patchifier: AudioPatchifier, geometry,
                      step_word: str) -> None:
    name = stage.name
    out[f"{name}.sigmas"] = mx.array(stage.sigmas, dtype=mx.float32)
    for event in events:
        for m, rec in event.state.items():
            if event.step == 0:
                for k in ("positions", "denoise_mask", "clean_latent"):
                    out[f"{name}.{m}.{k}"] = rec[k]
                continue
            step = event.step - 1
            prefix = f"{name}.{step_word}{step}"
            if m == "eval":  # the sampler names the evaluation's step index and sigma itself
                out[f"{prefix}.step_index"], out[f"{prefix}.sigma"] = rec["step_index"], rec["sigma"]
                continue
            if "eval" not in event.state:
                out[f"{prefix}.step_index"] = mx.array(step)
                out[f"{prefix}.sigma"] = mx.array(stage.sigmas[step], dtype=mx.float32)
            for k, v in rec.items():
                if k != "next":
                    out[f"{prefix}.{m}.{k}"] = v
    out[f"{name}.video_latent"] = outputs[0]["video_latent"]
    last = events[-1].state
    if "audio" in last:
        # The stage's own final audio (the dev stage 2 outputs stage-1 audio instead).
        out[f"{name}.audio_latent"] = patchifier.unpatchify(last["audio"]["next"], geometry.audio_channels,
                                                            geometry.audio_mel_bins)


def _drive(stage, items, inputs):
    events = []
    with stage:
        outputs = run_stage(stage, items, inputs, on_event=events.append)
    return events, outputs


def run(case) -> dict[str, mx.array]:
    noise, images = _sources(case)
    cfg = pipeline_config(case)
    stages = make_pipeline(cfg, noise=noise, images=images, record_passes=True, step_noise=_step_noise(case),
                           references=_references(case), audio=_audio(case), source=_source(case),
                           sde_noise=_res2s_noise(case))
    item = _item(case)
    inputs = [_contexts(case)]
    out: dict[str, mx.array] = {}
    patchifier = AudioPatchifier()
    step_word = "eval" if any(".eval0." in k for k in case.outputs) else "step"
    if "reference_downscale_factor" in case.outputs:
        out["reference_downscale_factor"] = mx.array(reference_scales(cfg.loras)[0])
    if "audio.encoded_latent" in case.outputs:
        encoder = build("audio_encoder", cfg.files.audio_vae_file, dtype=mx.float32)
        waveform, rate = _audio(case)(item, item.audio)
        out["audio.encoded_latent"] = encode_audio(mx.array(waveform), rate, encoder)
    if "source.audio_latent_full" in case.outputs:
        encoder = build("audio_encoder", cfg.files.audio_vae_file, dtype=mx.float32)
        _, waveform, rate = _source(case)(item, item.source, cfg.height, cfg.width, cfg.num_frames)
        out["source.audio_latent_full"] = encode_audio(mx.array(waveform), rate, encoder)
    if "crf_resolved" in case.outputs:
        crf = stages[1].cfg.image_crf  # the generation's, resolved by make_pipeline
        # One CRF per conditioning image; the recordings write -1 when there is no image to re-encode.
        out["crf_resolved"] = mx.array([crf] * len(item.images) or [-1])
    decoded = any(k.startswith("decoded.") for k in case.outputs)
    for stage in stages[1:]:  # the contexts replace the text stage
        if stage.name == "decode" and not decoded:
            continue  # the __call__ recordings leave the decoders to their own cases
        events, inputs = _drive(stage, [item], inputs)
        if stage.name in _STAGE_INDEX:
            _record_diffusion(out, stage, events, inputs, patchifier, stage.info.geometry, step_word)
        elif stage.name == "upsample":
            out["upsampled_video_latent"] = events[0].state["video_latent"]
        elif stage.name == "decode":
            frames = [e.state["frames"] for e in events if "frames" in e.state]
            out["decoded.video_frames"] = mx.concatenate(frames, axis=0)
            audio = [e.state for e in events if "waveform" in e.state]
            if audio:
                out["decoded.audio_mel"] = audio[0]["mel"]
                out["decoded.waveform"] = audio[0]["waveform"][0]
                out["decoded.waveform_sampling_rate"] = mx.array(stage.audio_sample_rate)
    return {k: v for k, v in out.items() if k in case.outputs}
