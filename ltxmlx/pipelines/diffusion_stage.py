"""A diffusion stage: build the transformer on enter, denoise batches of items, free it on exit.

Stage inputs per item (batch axis 1): `context.video` / `context.audio` (+ `context.negative.*` for
CFG) and, for a refinement stage, `video_latent` / `audio_latent` to start from. Outputs: the denoised
`video_latent` (1, C, F, H, W) and `audio_latent` (1, C, T, M) (absent in video-only mode), plus the
positive contexts when a later stage needs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltxmlx.errors import ShapeError
from ltxmlx.loader import build
from ltxmlx.pipelines.api import ImageCondition, RenderItem, StageOutputs, StepEvent
from ltxmlx.pipelines.config import LoraSpec, PipelineConfig
from ltxmlx.pipelines.denoise import Contexts, Guidance, denoise
from ltxmlx.pipelines.models import (
    CheckpointInfo,
    build_transformer,
    file_identity,
    lora_identity,
    mx_dtype,
    quantization_key,
    quantized_transformer_file,
)
from ltxmlx.components.diffusion_steps import STEPPERS
from ltxmlx.config.validate import validate_items
from ltxmlx.pipelines.states import (
    ImageSource,
    ItemConditioner,
    NoiseSource,
    StepNoiseSource,
    VideoConditioner,
    batch_states,
    batch_step_noise,
    split_latent,
)

log = logging.getLogger(__name__)


def batch_contexts(inputs: StageOutputs, audio: bool) -> Contexts:
    """Stack each item's (1, S, D) contexts into (B, S, D); negatives only if every item has them."""

    def stack(key: str) -> mx.array | None:
        if not all(key in x for x in inputs):
            return None
        parts = [x[key] for x in inputs]
        return mx.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]

    video = stack("context.video")
    if video is None:
        raise KeyError("diffusion stage inputs lack 'context.video' (the text stage's output)")
    return Contexts(video, stack("context.audio") if audio else None,
                    stack("context.negative.video"), stack("context.negative.audio") if audio else None)


@dataclass
class DiffusionStage:
    """One denoising stage at (height, width) over `sigmas`.

    refine: start from the inputs' latents re-noised to `noise_scale` (stage 2); else from pure noise.
    keep_input_audio: output the input audio latent instead of the refined one (the dev two-stage
    pipeline decodes stage-1 audio). pass_contexts: copy the positive contexts to the outputs.
    sampler: a key of
    `STEPPERS`; a stochastic one draws its step noise from `step_noise` (default: the item's keys).
    condition_video: how encoded images enter an item's video state (None: the image-to-video rule).
    freeze_audio / audio_noise_scale: audio given as conditioning (audio-to-video) stays clean.
    """

    name: str
    stage_index: int
    cfg: PipelineConfig
    info: CheckpointInfo
    height: int
    width: int
    sigmas: tuple[float, ...]
    guidance: Guidance
    loras: tuple[LoraSpec, ...]
    noise: NoiseSource
    images: ImageSource
    noise_scale: float = 1.0
    refine: bool = False
    keep_input_audio: bool = False
    pass_contexts: bool = False
    record_passes: bool = False
    sampler: str = "euler"
    step_noise: StepNoiseSource | None = None
    step_seed_offset: int = 0  # a stochastic sampler's draws come from the item seed + this (records)
    condition_video: VideoConditioner | None = None
    audio_noise_scale: float | None = None  # None: noise_scale
    freeze_audio: bool = False  # audio kept as given: denoise mask 0 and sigma 0 for the audio stream
    condition_item: ItemConditioner | None = None  # per item and modality, before noising
    loop: Callable[..., Generator] = denoise  # the sampler: denoise (Euler) or a drop-in like res_2s
    _model: object = field(default=None, init=False, repr=False)
    _encoder: object = field(default=None, init=False, repr=False)

    @property
    def dtype(self) -> mx.Dtype:
        return mx_dtype(self.cfg.dtype)

    def key_inputs(self, item: RenderItem) -> dict:
        g = self.guidance
        return {
            "stage": self.name, "kind": self.cfg.kind, "checkpoint": file_identity(self.cfg.files.checkpoint),
            **({"video_vae": file_identity(self.cfg.files.video_vae)} if self.cfg.files.video_vae and item.images else {}),
            "loras": lora_identity(self.loras), "dtype": self.cfg.dtype, "seed": item.seed,
            "images": [[i.path, i.frame, i.strength] for i in item.images], "image_crf": self.cfg.image_crf,
            "size": [self.height, self.width, item.frames(self.cfg.num_frames), self.cfg.fps], "sigmas": list(self.sigmas),
            "noise_scale": self.noise_scale, "audio": self.cfg.audio, "keep_input_audio": self.keep_input_audio,
            "guidance": [None if p is None else repr(p) for p in (g.video, g.audio)],
            **({"sampler": self.sampler} if self.sampler != "euler" else {}),
            **quantization_key(self.cfg),
        }

    def quantized_file(self) -> Path | None:
        """The transformer's quantized-weights cache file for this stage's LoRAs (None: plain weights)."""
        return quantized_transformer_file(self.cfg, self.loras)

    def item_notes(self, item: RenderItem) -> dict:
        """For the item's record: where a stochastic sampler's noise comes from (LTX-2.5 distilled stage 1:
        the item's seed + 10000, as the official loop seeds its generator), else nothing."""
        if not STEPPERS[self.sampler].stochastic:
            return {}
        return {"sampler": self.sampler, "step_noise_seed": item.seed + self.step_seed_offset,
                "step_noise_seed_offset": self.step_seed_offset}

    def __enter__(self) -> DiffusionStage:
        self._model = build_transformer(self.cfg.files.checkpoint, self.loras, self.dtype,
                                        self.cfg.quantization, self.cfg.quant_cache_dir)
        return self

    def __exit__(self, *exc) -> None:
        self._model = None
        self._encoder = None
        mx.clear_cache()

    def _encode_images(self, item: RenderItem) -> list[tuple[ImageCondition, mx.array]]:
        """Each image of the item, preprocessed at this stage's size and VAE-encoded (1, C, 1, h, w)."""
        out = []
        for image in item.images:
            pixels = mx.array(self.images(item, image, self.height, self.width)).astype(self.dtype)
            out.append((image, self.video_encoder()(pixels)))
        return out

    def video_initial(self, items: list[RenderItem], inputs: StageOutputs) -> list[mx.array] | None:
        """Each item's starting video latent (1, C, F, H, W): the input's when refining, else None (zeros)."""
        if not self.refine:
            return None
        return [x["video_latent"].astype(mx.float32) for x in inputs]

    def audio_initial(self, items: list[RenderItem], inputs: StageOutputs, tools) -> list[mx.array] | None:
        """Each item's starting audio latent (1, C, T, M): the input's when refining, else None (zeros)."""
        if not self.refine:
            return None
        return [x["audio_latent"].astype(mx.float32) for x in inputs]

    def video_encoder(self):
        """The video VAE encoder, built on first use and freed on exit."""
        if self._encoder is None:
            self._encoder = build("video_encoder", self.cfg.files.video_vae_file, dtype=self.dtype)
        return self._encoder

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        if self._model is None:
            raise RuntimeError(f"stage {self.name!r} must be entered (with-block) before run")
        # Files were checked when the batch was planned; the image source reads them below.
        validate_items(self.cfg, items, check_files=False)
        audio = self.cfg.audio
        g = self.info.geometry
        frames = {item.frames(self.cfg.num_frames) for item in items}
        if len(frames) != 1:
            raise ShapeError(f"stage {self.name}: items of one batch need one clip length, got {sorted(frames)}")
        num_frames = frames.pop()
        video_tools = g.video_tools(num_frames, self.height, self.width, self.cfg.fps)
        audio_tools = g.audio_tools(num_frames, self.cfg.fps) if audio else None
        v_init = self.video_initial(items, inputs)
        a_init = self.audio_initial(items, inputs, audio_tools) if audio else None
        video, audio_state = batch_states(items, self.stage_index, video_tools, audio_tools, self.noise,
                                          self.noise_scale, self._encode_images, v_init, a_init,
                                          self.condition_video, self.audio_noise_scale, self.condition_item)
        if self.freeze_audio and audio_state is not None:
            audio_state = replace(audio_state, denoise_mask=mx.zeros_like(audio_state.denoise_mask))
        contexts = batch_contexts(inputs, audio)
        # Without conditioning every token of an item has the item's noise level: the transformer then
        # computes its modulation once per item instead of once per token (same result, less memory).
        conditioned = self.freeze_audio or self.condition_item is not None
        uniform = not conditioned and not any(item.images or item.references for item in items)
        sampling = {}
        stepper = STEPPERS[self.sampler]()
        if stepper.stochastic:  # the LTX-2.5 distilled stage 1 (the default loop takes a stepper)
            sampling = {"stepper": stepper, "step_noise": batch_step_noise(self.step_noise, items, self.stage_index)}
        video, audio_state = yield from self.loop(
            self._model, video, audio_state, self.sigmas, contexts, self.guidance, self.name,
            self.cfg.max_batch_size, self.record_passes, uniform_timesteps=uniform,
            frozen=("audio",) if self.freeze_audio else (), **sampling)
        v_lat = video_tools.unpatchify(video_tools.clear_conditioning(video).latent)
        outputs = [{"video_latent": v} for v in split_latent(v_lat)]
        if audio:
            a_lat = audio_tools.unpatchify(audio_tools.clear_conditioning(audio_state).latent)
            for out, x, a in zip(outputs, inputs, split_latent(a_lat)):
                out["audio_latent"] = x["audio_latent"] if self.keep_input_audio else a
        if self.pass_contexts:
            for out, x in zip(outputs, inputs):
                out.update({k: x[k] for k in ("context.video", "context.audio") if k in x})
        return outputs


def stage_sigmas(values: Sequence[float] | mx.array) -> tuple[float, ...]:
    """Sigmas as Python floats holding float32 values (what the official code reads with .item())."""
    return tuple(float(v) for v in np.asarray(values, dtype=np.float32))
