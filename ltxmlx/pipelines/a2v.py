"""Audio-to-video: the video is generated to an input audio track, which is kept as it is.

The track (any file the bundled ffmpeg reads: wav, mp3, m4a, a video's audio stream) is cut at the
item's start time / maximum duration, VAE-encoded and cut to the video's audio latent length, then
frozen in both stages (denoise mask 0, its stream's sigma 0: it conditions, it is never denoised).
Only the video is guided. The output's audio is the input track (resampled to the output rate), as
the official A2VidPipelineTwoStage returns the decoded file rather than a VAE round trip.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Protocol

import mlx.core as mx
import numpy as np

from ltxmlx.errors import LtxmlxError
from ltxmlx.loader import build
from ltxmlx.model.audio_vae import AudioProcessor, encode_audio
from ltxmlx.model.audio_vae.processing import resample
from ltxmlx.pipelines.api import AudioInput, RenderItem, Stage, StageOutputs, StepEvent
from ltxmlx.pipelines.decode_stage import DecodeStage
from ltxmlx.pipelines.denoise import Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage
from ltxmlx.pipelines.kinds import BuildContext
from ltxmlx.pipelines.models import mx_dtype
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.pipelines.upsample_stage import UpsampleStage


class AudioSource(Protocol):
    def __call__(self, item: RenderItem, audio: AudioInput) -> tuple[np.ndarray, int]:
        """(waveform (1, 2, samples) float32 in [-1, 1], sampling rate) of the item's cut track."""
        ...


def file_audio(item: RenderItem, audio: AudioInput) -> tuple[np.ndarray, int]:
    """The default source: the file's first audio stream at its own rate, mono doubled to stereo."""
    from ltxmlx.media.probe import decode_audio, probe

    info = probe(audio.path)
    if not info.audio_codec:
        raise LtxmlxError(f"{audio.path}: no audio stream")
    samples = decode_audio(audio.path)  # (samples, channels)
    rate = info.sample_rate
    start = int(round(audio.start_time * rate))
    end = None if audio.max_duration is None else start + int(round(audio.max_duration * rate))
    cut = samples[start:end]
    if cut.shape[1] == 1:
        cut = np.repeat(cut, 2, axis=1)
    return np.ascontiguousarray(cut[:, :2].T[None], dtype=np.float32), rate


def _track(source: AudioSource, item: RenderItem) -> tuple[np.ndarray, int]:
    if item.audio is None:
        raise LtxmlxError(f"item {item.id}: the a2v pipeline needs an input audio track (conditioning `audio`)")
    return source(item, item.audio)


@dataclass
class AudioToVideoStage(DiffusionStage):
    """A diffusion stage whose audio is the items' encoded input track, frozen."""

    audio_source: AudioSource = field(default=file_audio)
    _audio_encoder: object = field(default=None, init=False, repr=False)

    def key_inputs(self, item: RenderItem) -> dict:
        keys = super().key_inputs(item)
        a = item.audio
        keys["input_audio"] = None if a is None else [a.path, a.start_time, a.max_duration]
        return keys

    def __exit__(self, *exc) -> None:
        self._audio_encoder = None
        super().__exit__(*exc)

    def audio_initial(self, items: list[RenderItem], inputs: StageOutputs, tools) -> list[mx.array]:
        if self.refine:  # the previous stage passed the frozen latent through
            return super().audio_initial(items, inputs, tools)
        if self._audio_encoder is None:
            self._audio_encoder = build("audio_encoder", self.cfg.files.audio_vae_file, dtype=self.dtype)
        processor = AudioProcessor(self._audio_encoder.config)
        frames = tools.target.frames
        out = []
        for item in items:
            waveform, rate = _track(self.audio_source, item)
            latent = encode_audio(mx.array(waveform).astype(self.dtype), rate, self._audio_encoder, processor)
            if latent.shape[2] < frames:
                raise LtxmlxError(f"item {item.id}: the input audio encodes to {latent.shape[2]} latent frames, "
                                  f"the video needs {frames} (the track is shorter than the video)")
            out.append(latent[:, :, :frames].astype(mx.float32))
        return out


@dataclass
class InputAudioDecodeStage(DecodeStage):
    """Decodes the video; the audio output is each item's input track at the output rate."""

    audio_source: AudioSource = field(default=file_audio)

    def key_inputs(self, item: RenderItem) -> dict:
        keys = super().key_inputs(item)
        a = item.audio
        keys["input_audio"] = None if a is None else [a.path, a.start_time, a.max_duration]
        return keys

    def __enter__(self) -> InputAudioDecodeStage:
        self._video = build("video_decoder", self.cfg.files.video_vae_file, dtype=mx_dtype(self.cfg.dtype))
        return self

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        video_only = [{k: v for k, v in x.items() if k != "audio_latent"} for x in inputs]
        outputs = yield from self._decode_video(items, video_only)
        for i, (item, out) in enumerate(zip(items, outputs)):
            waveform, rate = _track(self.audio_source, item)
            samples = int(round(self.cfg.num_frames / self.cfg.fps * self.audio_sample_rate))
            out["audio"] = resample(mx.array(waveform[0]), rate, self.audio_sample_rate)[:, :samples]
            yield StepEvent(self.name, i + 1, len(items), {"waveform": out["audio"]})
        return outputs


def build_a2v(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    if not cfg.audio:
        raise LtxmlxError("the a2v pipeline needs the audio branch (audio=True)")
    source = ctx.audio or file_audio
    frozen = {"freeze_audio": True, "audio_noise_scale": 0.0, "audio_source": source}
    stage1 = AudioToVideoStage(name="stage1", stage_index=0, height=cfg.height // 2, width=cfg.width // 2,
                               sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, pass_contexts=True,
                               **frozen, **ctx.common)
    stage2 = AudioToVideoStage(name="stage2", stage_index=1, height=cfg.height, width=cfg.width,
                               sigmas=r.stage2_sigmas, guidance=Guidance(), loras=cfg.loras + ctx.distilled_lora,
                               noise_scale=r.stage2_sigmas[0], refine=True, **frozen, **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, UpsampleStage(cfg), stage2,
            InputAudioDecodeStage(cfg, ctx.info, audio_source=source)]
