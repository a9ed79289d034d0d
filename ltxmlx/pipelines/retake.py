"""Retake: regenerate the [start_time, end_time) window of an existing video and its audio.

The source (at the render's size, frame count and frame rate) is VAE-encoded - video and, when the
file has one, its audio track - and starts the single denoising stage as the clean latent; only the
tokens whose time span meets the window get denoise mask 1, so everything outside it is kept. A
source without audio gets its whole audio generated. Distilled model, unguided, as the official
RetakePipeline in distilled mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import mlx.core as mx
import numpy as np

from ltxmlx.conditioning.image_preprocess import resize_and_center_crop
from ltxmlx.conditioning.temporal_mask import temporal_region_mask
from ltxmlx.errors import LtxmlxError
from ltxmlx.loader import build
from ltxmlx.model.audio_vae import AudioProcessor, encode_audio
from ltxmlx.pipelines.api import RenderItem, SourceVideo, Stage, StageOutputs
from ltxmlx.pipelines.decode_stage import DecodeStage
from ltxmlx.pipelines.denoise import Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage
from ltxmlx.pipelines.kinds import BuildContext
from ltxmlx.pipelines.text_stage import TextStage


class SourceMedia(Protocol):
    def __call__(self, item: RenderItem, source: SourceVideo, height: int, width: int,
                 num_frames: int) -> tuple[np.ndarray, np.ndarray | None, int]:
        """(pixels (1, 3, F, height, width) in [-1, 1], waveform (1, 2, samples) | None, its rate)."""
        ...


def file_source(item: RenderItem, source: SourceVideo, height: int, width: int,
                num_frames: int) -> tuple[np.ndarray, np.ndarray | None, int]:
    """The default: the first `num_frames` frames cover-resized and cropped, and the audio track
    (the render's duration of it), if the file has one."""
    from ltxmlx.media.probe import decode_audio, decode_video, probe

    frames = decode_video(source.path)[:num_frames]
    pixels = np.stack([resize_and_center_crop(f.astype(np.float32), height, width) for f in frames])
    pixels = (pixels.transpose(3, 0, 1, 2)[None] / 127.5 - 1.0).astype(np.float32)
    info = probe(source.path)
    if not info.audio_codec:
        return pixels, None, 0
    samples = decode_audio(source.path)[: int(round(num_frames / info.fps * info.sample_rate))]
    if samples.shape[1] == 1:
        samples = np.repeat(samples, 2, axis=1)
    return pixels, np.ascontiguousarray(samples[:, :2].T[None], dtype=np.float32), info.sample_rate


def conform(latent: mx.array, frames: int) -> mx.array:
    """Cut or zero-pad a latent (B, C, T, ...) to `frames` along its time axis."""
    have = latent.shape[2]
    if have >= frames:
        return latent[:, :, :frames]
    pad = mx.zeros((*latent.shape[:2], frames - have, *latent.shape[3:]), dtype=latent.dtype)
    return mx.concatenate([latent, pad], axis=2)


@dataclass
class RetakeStage(DiffusionStage):
    """One stage starting from the encoded source, regenerating each item's window."""

    source_media: SourceMedia = field(default=file_source)
    _media: dict = field(default_factory=dict, init=False, repr=False)
    _audio_encoder: object = field(default=None, init=False, repr=False)

    def key_inputs(self, item: RenderItem) -> dict:
        keys = super().key_inputs(item)
        s = item.source
        keys["source"] = None if s is None else [s.path, s.start_time, s.end_time]
        return keys

    def __exit__(self, *exc) -> None:
        self._audio_encoder = None
        self._media.clear()
        super().__exit__(*exc)

    def _source(self, item: RenderItem):
        if item.source is None:
            raise LtxmlxError(f"item {item.id}: the retake pipeline needs a source video (conditioning `source`)")
        if item.id not in self._media:
            self._media[item.id] = self.source_media(item, item.source, self.height, self.width,
                                                     self.cfg.num_frames)
        return self._media[item.id]

    def video_initial(self, items: list[RenderItem], inputs: StageOutputs) -> list[mx.array]:
        frames = self.info.geometry.video_tools(self.cfg.num_frames, self.height, self.width,
                                                self.cfg.fps).target.frames
        out = []
        for item in items:
            pixels = mx.array(self._source(item)[0]).astype(self.dtype)
            out.append(conform(self.video_encoder()(pixels), frames).astype(mx.float32))
        return out

    def audio_initial(self, items: list[RenderItem], inputs: StageOutputs, tools) -> list[mx.array | None]:
        out = []
        for item in items:
            _, waveform, rate = self._source(item)
            if waveform is None:
                out.append(None)
                continue
            if self._audio_encoder is None:
                self._audio_encoder = build("audio_encoder", self.cfg.files.audio_vae_file, dtype=self.dtype)
            latent = encode_audio(mx.array(waveform).astype(self.dtype), rate, self._audio_encoder,
                                  AudioProcessor(self._audio_encoder.config))
            out.append(conform(latent, tools.target.frames).astype(mx.float32))
        return out

    def window(self, item: RenderItem, modality: str, tools, state):
        """The item's window gets mask 1 (video always; audio when the source has a track)."""
        if modality == "audio" and self._source(item)[1] is None:
            return state  # no source audio: generate all of it
        return temporal_region_mask(state, item.source.start_time, item.source.end_time)


def build_retake(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    stage = RetakeStage(name="stage1", stage_index=0, height=cfg.height, width=cfg.width, sigmas=r.stage1_sigmas,
                        guidance=Guidance(), loras=cfg.loras, source_media=ctx.source or file_source, **ctx.common)
    stage.condition_item = stage.window
    return [TextStage(cfg, ctx.needs_negative), stage, DecodeStage(cfg, ctx.info)]
