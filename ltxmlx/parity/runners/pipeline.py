"""Parity runner for the end-to-end pipeline cases (dev two-stage, distilled, image-to-video).

The stages come from `make_pipeline` (the renderer's code path) with the case's recorded noise and
preprocessed images injected; the text stage is skipped because the contexts are case inputs. Every
intermediate is read from the stages' StepEvents and outputs.
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.components.patchifiers import AudioPatchifier
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.pipelines.api import ImageCondition, RenderItem
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.runner.render import run_stage

_KINDS = {"dev": "two_stage", "i2v": "two_stage", "distilled": "distilled"}
_STAGE_INDEX = {"stage1": 0, "stage2": 1}


def _guider(p: dict | None) -> GuiderParams | None:
    if p is None:
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


def pipeline_config(case) -> PipelineConfig:
    p = case.config["pipeline"]
    lora = p.get("distilled_lora")
    roles = case_files(case)
    files = ModelFiles(
        checkpoint=roles["checkpoint"],
        text_encoder=str(case.root / "common" / "tiny_gemma3"),
        spatial_upsampler=roles.get("spatial_upsampler"),
        distilled_lora=LoraSpec(roles["lora"], float(lora["strength"])) if lora else None,
        video_vae=roles.get("video_vae"), audio_vae=roles.get("audio_vae"),
    )
    return PipelineConfig(
        kind=_KINDS[p["kind"]], files=files, height=p["height"], width=p["width"], num_frames=p["num_frames"],
        fps=p["frame_rate"], steps=p.get("num_inference_steps"), video_guider=_guider(p.get("video_guider_params")),
        audio_guider=_guider(p.get("audio_guider_params")), max_batch_size=p.get("max_batch_size", 1), dtype="float32",
    )


def _item(case) -> RenderItem:
    cond = case.config["pipeline"].get("image_conditioning")
    images = () if cond is None else (ImageCondition("<case input>", cond["frame_idx"], cond["strength"]),)
    return RenderItem("case", "", "", int(case.input("seed")), images)


def _sources(case):
    def noise(item, stage_index, modality, shape):
        stage = {v: k for k, v in _STAGE_INDEX.items()}[stage_index]
        return mx.array(case.input(f"noise.{stage}.{modality}"))

    def images(item, image, height, width):
        stage1_h = case.config["pipeline"]["stage1_resolution"][0]
        return case.input("image.stage1" if height == stage1_h else "image.stage2")

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


def _record_diffusion(out: dict, stage, events, outputs, patchifier: AudioPatchifier, geometry) -> None:
    name = stage.name
    out[f"{name}.sigmas"] = mx.array(stage.sigmas, dtype=mx.float32)
    for event in events:
        for m, rec in event.state.items():
            if event.step == 0:
                for k in ("positions", "denoise_mask", "clean_latent"):
                    out[f"{name}.{m}.{k}"] = rec[k]
                continue
            prefix = f"{name}.step{event.step - 1}.{m}"
            for k, v in rec.items():
                if k != "next":
                    out[f"{prefix}.{k}"] = v
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
    stages = make_pipeline(pipeline_config(case), noise=noise, images=images, record_passes=True,
                           step_noise=_step_noise(case))
    item = _item(case)
    inputs = [_contexts(case)]
    out: dict[str, mx.array] = {}
    patchifier = AudioPatchifier()
    for stage in stages[1:]:  # the contexts replace the text stage
        events, inputs = _drive(stage, [item], inputs)
        if stage.name in _STAGE_INDEX:
            _record_diffusion(out, stage, events, inputs, patchifier, stage.info.geometry)
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
