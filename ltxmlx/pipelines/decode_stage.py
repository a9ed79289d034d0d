"""The final stage: video VAE decode (chunked, tiled within a memory budget) and audio decode + vocoder.

Items are decoded one at a time (the decoder's activations dominate memory). Each decoded video chunk
and each item's audio is yielded as a StepEvent before the next is computed, so the caller's
evaluation keeps at most one chunk's graph alive.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.components.noisers import DECODE_NOISE_STAGE, draw_noise, item_key
from ltxmlx.model.video_vae.decode import AUTO, decode_steps
from ltxmlx.model.video_vae.diffusion.decode import diffusion_decode_steps
from ltxmlx.pipelines.api import RenderItem, StageOutputs, StepEvent
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.models import CheckpointInfo, file_identity, mx_dtype


# model.video_decoder -> the loader component that decodes with it.
VIDEO_DECODERS = {"conv": "video_decoder", "diffusion": "video_decoder_diffusion"}


def item_diffusion_steps(decoder, latent: mx.array, item: RenderItem):
    """The diffusion decoder's steps for one item: its x_T noise comes from the item's own key (the
    decode stage's slot), so an item decodes the same alone or in any batch."""

    def noise(shape: tuple[int, ...]) -> mx.array:
        return draw_noise([item_key(item.seed, DECODE_NOISE_STAGE, "video")], tuple(shape[1:]))

    return diffusion_decode_steps(decoder, latent, noise)


def audio_models(files, dtype: mx.Dtype) -> tuple[object, object]:
    """(audio decoder, vocoder) from the audio VAE file (the single file on LTX-2 / 2.3)."""
    return build("audio_decoder", files.audio_vae_file, dtype=dtype), build("vocoder", files.audio_vae_file, dtype=dtype)


def decode_audio(decoder, vocoder, latent: mx.array) -> tuple[mx.array, mx.array]:
    """(mel, waveform float32 (B, 2, samples)) of an audio latent (B, C, T, M); graph only."""
    mel = decoder(latent.astype(decoder.conv_in.conv.weight.dtype))
    return mel, vocoder(mel).astype(mx.float32)


def to_uint8(frames: mx.array) -> mx.array:
    """RGB in [0, 1] -> uint8 by clamp, x255 and truncation (the official video writer's conversion)."""
    return (mx.clip(frames, 0.0, 1.0) * 255.0).astype(mx.uint8)


@dataclass
class DecodeStage:
    """Inputs per item: `video_latent` (1, C, F', H', W') and `audio_latent` (1, C, T, M) (absent in
    video-only mode). Outputs: {"video": uint8 (F, H, W, 3), "audio": float32 (2, samples)}; in
    video-only mode "audio" is an empty (2, 0) array."""

    cfg: PipelineConfig
    info: CheckpointInfo
    name: str = "decode"
    _video: object = field(default=None, init=False, repr=False)
    _audio: object = field(default=None, init=False, repr=False)
    _vocoder: object = field(default=None, init=False, repr=False)

    @property
    def fps(self) -> float:
        return self.cfg.fps

    @property
    def audio_sample_rate(self) -> int:
        return self.info.audio_sample_rate

    def key_inputs(self, item: RenderItem) -> dict:
        files = self.cfg.files
        key = {"stage": self.name, "checkpoint": file_identity(files.checkpoint),
               "dtype": self.cfg.dtype, "audio": self.cfg.audio}
        if self.cfg.video_decoder != "conv":
            key.update(video_decoder=self.cfg.video_decoder, seed=item.seed)
        if files.video_vae or files.audio_vae:
            key.update(video_vae=file_identity(files.video_vae_file), audio_vae=file_identity(files.audio_vae_file))
        return key

    def __enter__(self) -> DecodeStage:
        dtype, files = mx_dtype(self.cfg.dtype), self.cfg.files
        self._video = build(VIDEO_DECODERS[self.cfg.video_decoder], files.video_vae_file, dtype=dtype)
        if self.cfg.audio:
            self._audio, self._vocoder = audio_models(files, dtype)
        return self

    def __exit__(self, *exc) -> None:
        self._video = self._audio = self._vocoder = None
        mx.clear_cache()

    def _budget(self) -> int | None:
        gb = self.cfg.decode_tile_budget_gb
        return None if gb is None else int(gb * 1024**3)

    def _decode_video(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        """[{"video": uint8 (F, H, W, 3)}] per item; yields the chunk / tile events."""
        if self._video is None:
            raise RuntimeError(f"stage {self.name!r} must be entered (with-block) before run")
        outputs = []
        total = len(items)
        for i, x in enumerate(inputs):
            chunks = []
            latent = x["video_latent"].astype(mx_dtype(self.cfg.dtype))
            steps = decode_steps(self._video, latent, AUTO, self._budget())
            if self.cfg.video_decoder == "diffusion":
                steps = item_diffusion_steps(self._video, latent, items[i])
            for step in steps:
                if step.frames is None:  # a spatial tile accumulated: evaluate before the next one
                    yield StepEvent(self.name, i, total, {"tile": step.state})
                    continue
                # keep only the uint8 frames; the float chunk is freed once the caller evaluated both
                chunks.append(to_uint8(step.frames[0]))
                yield StepEvent(self.name, i, total, {"frames": step.frames[0], "uint8": chunks[-1], "carry": step.state})
            outputs.append({"video": mx.concatenate(chunks, axis=0) if len(chunks) > 1 else chunks[0]})
        return outputs

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        videos = yield from self._decode_video(items, inputs)
        outputs = []
        total = len(items)
        for i, (x, out) in enumerate(zip(inputs, videos)):
            if self.cfg.audio:
                mel, waveform = decode_audio(self._audio, self._vocoder, x["audio_latent"])
                yield StepEvent(self.name, i + 1, total, {"mel": mel, "waveform": waveform})
                out["audio"] = waveform[0]
            else:
                out["audio"] = mx.zeros((2, 0), dtype=mx.float32)
                yield StepEvent(self.name, i + 1, total, {})
            outputs.append(out)
        return outputs
