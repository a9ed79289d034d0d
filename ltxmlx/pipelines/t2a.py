"""Text-to-audio: one guided diffusion stage over the audio stream only, decoded to a waveform.

The video stream is never built: the transformer runs with video=None, so no video token, video
self-attention or cross-modal attention is computed. The clip length is the config's frames / fps
(the audio latent covers that span). Guidance is the audio guider of the checkpoint's generation
(or the config's) with its cross-modal term off (modality scale 1: there is no video to attend to).
The final stage runs the audio decoder and the vocoder only and returns {"audio": (2, samples)}.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import mlx.core as mx

from ltxmlx.errors import ConfigError, ShapeError
from ltxmlx.pipelines.api import RenderItem, Stage, StageOutputs, StepEvent
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.decode_stage import audio_models, decode_audio
from ltxmlx.pipelines.denoise import Contexts, Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage
from ltxmlx.pipelines.kinds import BuildContext
from ltxmlx.pipelines.models import CheckpointInfo, file_identity, mx_dtype
from ltxmlx.pipelines.states import noised, split_latent, stack_states
from ltxmlx.pipelines.text_stage import TextStage


def audio_contexts(inputs: StageOutputs) -> Contexts:
    """The items' audio contexts stacked on the batch axis (negatives only if every item has one)."""

    def stack(key: str) -> mx.array | None:
        if not all(key in x for x in inputs):
            return None
        parts = [x[key] for x in inputs]
        return mx.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]

    audio = stack("context.audio")
    if audio is None:
        raise KeyError("audio-only stage inputs lack 'context.audio' (the text stage's output)")
    return Contexts(None, audio, None, stack("context.negative.audio"))


@dataclass
class AudioOnlyStage(DiffusionStage):
    """A diffusion stage whose only stream is the audio: its output per item is `audio_latent`."""

    def key_inputs(self, item: RenderItem) -> dict:
        keys = super().key_inputs(item)
        keys["size"] = [item.frames(self.cfg.num_frames), self.cfg.fps]  # the audio span; no picture size
        return keys

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        if self._model is None:
            raise RuntimeError(f"stage {self.name!r} must be entered (with-block) before run")
        frames = {item.frames(self.cfg.num_frames) for item in items}
        if len(frames) != 1:
            raise ShapeError(f"stage {self.name}: items of one batch need one clip length, got {sorted(frames)}")
        tools = self.info.geometry.audio_tools(frames.pop(), self.cfg.fps)
        states = [noised(tools.create_initial_state(mx.float32, None), item, self.stage_index, "audio",
                         self.noise, self.noise_scale) for item in items]
        _, audio = yield from self.loop(
            self._model, None, stack_states(states), self.sigmas, audio_contexts(inputs), self.guidance,
            self.name, self.cfg.max_batch_size, self.record_passes, uniform_timesteps=True)
        latent = tools.unpatchify(tools.clear_conditioning(audio).latent)
        return [{"audio_latent": a} for a in split_latent(latent)]


@dataclass
class AudioDecodeStage:
    """Inputs per item: `audio_latent` (1, C, T, M). Output: {"audio": float32 (2, samples)} lasting the
    clip's frames / fps seconds, no video."""

    cfg: PipelineConfig
    info: CheckpointInfo
    name: str = "decode"
    _audio: object = field(default=None, init=False, repr=False)
    _vocoder: object = field(default=None, init=False, repr=False)

    @property
    def fps(self) -> float:
        return self.cfg.fps

    @property
    def audio_sample_rate(self) -> int:
        return self.info.audio_sample_rate

    def key_inputs(self, item: RenderItem) -> dict:
        return {"stage": self.name, "kind": self.cfg.kind, "checkpoint": file_identity(self.cfg.files.checkpoint),
                "audio_vae": file_identity(self.cfg.files.audio_vae_file), "dtype": self.cfg.dtype}

    def __enter__(self) -> AudioDecodeStage:
        self._audio, self._vocoder = audio_models(self.cfg.files, mx_dtype(self.cfg.dtype))
        return self

    def __exit__(self, *exc) -> None:
        self._audio = self._vocoder = None
        mx.clear_cache()

    def _fit(self, waveform: mx.array, item: RenderItem) -> mx.array:
        """The waveform trimmed or zero-padded to the clip's frames / fps seconds (the vocoder's output
        length is that of the latent frames, which round the span up or down by a few milliseconds)."""
        want = int(round(item.frames(self.cfg.num_frames) / self.fps * self.audio_sample_rate))
        have = waveform.shape[1]
        if have >= want:
            return waveform[:, :want]
        return mx.pad(waveform, [(0, 0), (0, want - have)])

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        if self._audio is None:
            raise RuntimeError(f"stage {self.name!r} must be entered (with-block) before run")
        outputs = []
        for i, x in enumerate(inputs):
            mel, waveform = decode_audio(self._audio, self._vocoder, x["audio_latent"])
            waveform = waveform[0]
            yield StepEvent(self.name, i + 1, len(items), {"mel": mel, "waveform": waveform})
            outputs.append({"audio": self._fit(waveform, items[i])})
        return outputs


def build_t2a(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    if not cfg.audio:
        raise ConfigError("audio", cfg.audio, "True for the t2a pipeline (it generates audio only)")
    audio = r.guidance.audio
    guidance = Guidance(None, None if audio is None else replace(audio, modality_scale=1.0))
    stage1 = AudioOnlyStage(name="stage1", stage_index=0, height=cfg.height, width=cfg.width,
                            sigmas=r.stage1_sigmas, guidance=guidance, loras=cfg.loras, **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, AudioDecodeStage(cfg, ctx.info)]
