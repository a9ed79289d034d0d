"""LTX-2 / LTX-2.3 / LTX-2.5 audio-video diffusion transformer (``LTXModel``): predicts velocities."""

from __future__ import annotations

import dataclasses
import functools

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.transformer.adaln import AdaLayerNormSingle
from ltxmlx.model.transformer.config import TransformerConfig
from ltxmlx.model.transformer.modality import Modality
from ltxmlx.model.transformer.perturbations import BatchPerturbations, no_perturbations
from ltxmlx.model.transformer.text_projection import PixArtAlphaTextProjection
from ltxmlx.model.transformer.transformer import BasicAVTransformerBlock
from ltxmlx.model.transformer.transformer_args import StreamArgs, add_cross_modal, prepare_stream

# Number of scale/shift rows of the AV cross-attention AdaLN (scale/shift for A2V and V2A).
AV_SCALE_SHIFT_COEFFICIENT = 4


class LTXModel(nn.Module):
    """Attribute names follow the checkpoint keys under ``model.diffusion_model.``.

    Use ``model(video, audio, perturbations)`` or, to inspect intermediates, ``preprocess`` then
    each of ``transformer_blocks`` then ``postprocess``.

    ``compiled`` (default False): ``__call__`` runs the whole forward as one ``mx.compile``d function
    (weights are its implicit inputs, so updated weights are picked up; results equal the eager
    forward). Measured on an H100 at 19B s1: no faster within run-to-run noise, +0.6 GiB peak with
    per-token timesteps, and replaying the traced graph costs the host as much as building it op
    by op; so it is opt-in. One trace per input structure (streams present, perturbations) and shape.
    """

    def __init__(self, cfg: TransformerConfig, compiled: bool = False):
        super().__init__()
        self.cfg = cfg
        self.compiled = compiled
        # Not a child module or parameter: a plain attribute, kept out of the module's dict tree.
        object.__setattr__(self, "_traces", {})
        d, da = cfg.inner_dim, cfg.audio_inner_dim
        coef = cfg.adaln_coefficient
        self.patchify_proj = nn.Linear(cfg.in_channels, d)
        if cfg.keyframes_embedding:
            self.keyframes_abs_pos_embedding = mx.zeros((1, d))
        self.audio_patchify_proj = nn.Linear(cfg.audio_in_channels, da)
        self.adaln_single = AdaLayerNormSingle(d, coef)
        self.audio_adaln_single = AdaLayerNormSingle(da, coef)
        if cfg.prompt_adaln:
            self.prompt_adaln_single = AdaLayerNormSingle(d, 2)
            self.audio_prompt_adaln_single = AdaLayerNormSingle(da, 2)
        if cfg.caption_channels is not None:
            self.caption_projection = PixArtAlphaTextProjection(cfg.caption_channels, d)
            self.audio_caption_projection = PixArtAlphaTextProjection(cfg.caption_channels, da)
        self.av_ca_video_scale_shift_adaln_single = AdaLayerNormSingle(d, AV_SCALE_SHIFT_COEFFICIENT)
        self.av_ca_audio_scale_shift_adaln_single = AdaLayerNormSingle(da, AV_SCALE_SHIFT_COEFFICIENT)
        self.av_ca_a2v_gate_adaln_single = AdaLayerNormSingle(d, 1)
        self.av_ca_v2a_gate_adaln_single = AdaLayerNormSingle(da, 1)
        self.transformer_blocks = [BasicAVTransformerBlock(cfg) for _ in range(cfg.num_layers)]
        self.scale_shift_table = mx.zeros((2, d))
        self.audio_scale_shift_table = mx.zeros((2, da))
        self.proj_out = nn.Linear(d, cfg.out_channels)
        self.audio_proj_out = nn.Linear(da, cfg.audio_out_channels)

    @property
    def num_blocks(self) -> int:
        return len(self.transformer_blocks)

    def check_inputs(
        self, video: Modality | None, audio: Modality | None, perturbations: BatchPerturbations | None = None
    ) -> int:
        """Validate shapes before any compute; returns the batch size."""
        cfg = self.cfg
        if video is None and audio is None:
            raise ShapeError("transformer: expected a video and/or an audio modality, got neither")
        if video is not None:
            video.check("video", cfg.in_channels, len(cfg.max_pos), cfg.video_context_dim)
        if audio is not None:
            audio.check("audio", cfg.audio_in_channels, len(cfg.audio_max_pos), cfg.audio_context_dim)
        if video is not None and audio is not None and video.latent.shape[0] != audio.latent.shape[0]:
            raise ShapeError(
                f"transformer: video and audio batch sizes differ ({video.latent.shape[0]} vs {audio.latent.shape[0]})"
            )
        batch = (video or audio).latent.shape[0]
        if perturbations is not None:
            perturbations.check_batch(batch)
        return batch

    def preprocess(self, video: Modality | None, audio: Modality | None) -> tuple[StreamArgs | None, StreamArgs | None]:
        """Per-stream block inputs (AdaLN tables, RoPE, context), computed once per forward."""
        cfg = self.cfg
        common = dict(theta=cfg.theta, timestep_scale=cfg.timestep_scale_multiplier)
        cross = dict(
            common,
            cross_dim=cfg.audio_inner_dim,
            cross_max_pos=cfg.cross_pe_max_pos,
            av_timestep_scale=cfg.av_ca_timestep_scale_multiplier,
        )
        vargs = aargs = None
        if video is not None:
            vargs = prepare_stream(
                video,
                patchify_proj=self.patchify_proj,
                adaln=self.adaln_single,
                prompt_adaln=self.get("prompt_adaln_single"),
                caption_projection=self.get("caption_projection"),
                max_pos=cfg.max_pos,
                heads=cfg.heads,
                keyframes_embedding=self.get("keyframes_abs_pos_embedding"),
                **common,
            )
        if audio is not None:
            aargs = prepare_stream(
                audio,
                patchify_proj=self.audio_patchify_proj,
                adaln=self.audio_adaln_single,
                prompt_adaln=self.get("audio_prompt_adaln_single"),
                caption_projection=self.get("audio_caption_projection"),
                max_pos=cfg.audio_max_pos,
                heads=cfg.audio_heads,
                **common,
            )
        if video is not None and audio is not None:
            vargs = add_cross_modal(
                vargs,
                video,
                audio.sigma,
                scale_shift_adaln=self.av_ca_video_scale_shift_adaln_single,
                gate_adaln=self.av_ca_a2v_gate_adaln_single,
                heads=cfg.heads,
                **cross,
            )
            aargs = add_cross_modal(
                aargs,
                audio,
                video.sigma,
                scale_shift_adaln=self.av_ca_audio_scale_shift_adaln_single,
                gate_adaln=self.av_ca_v2a_gate_adaln_single,
                heads=cfg.audio_heads,
                **cross,
            )
        return vargs, aargs

    def _head(self, x: mx.array, embedded_timestep: mx.array, table: mx.array, proj: nn.Linear) -> mx.array:
        # LayerNorm (mean-subtracted, no affine), not RMS, in the output head.
        x = mx.fast.layer_norm(x, None, None, self.cfg.norm_eps)
        shift, scale = table[0] + embedded_timestep, table[1] + embedded_timestep
        return proj(x * (1 + scale) + shift)

    def postprocess(
        self, vx: mx.array | None, ax: mx.array | None, video: StreamArgs | None, audio: StreamArgs | None
    ) -> tuple[mx.array | None, mx.array | None]:
        """Output heads: (B, Tv, out_channels) and (B, Ta, audio_out_channels) velocities."""
        v = None if video is None else self._head(vx, video.embedded_timestep, self.scale_shift_table, self.proj_out)
        a = None
        if audio is not None:
            a = self._head(ax, audio.embedded_timestep, self.audio_scale_shift_table, self.audio_proj_out)
        return v, a

    def __call__(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchPerturbations | None = None,
    ) -> tuple[mx.array | None, mx.array | None]:
        """Velocities for the given streams; an absent stream is not computed at all.

        Returns (video (B, Tv, out_channels) | None, audio (B, Ta, audio_out_channels) | None)
        in the weights' dtype.
        """
        self.check_inputs(video, audio, perturbations)
        if not self.compiled:
            return self._forward(video, audio, perturbations)
        key = (tuple(None if m is None else (m.keyframes_mask is not None, m.attention_mask is not None)
                     for m in (video, audio)), perturbations)
        fn = self._traces.get(key)
        if fn is None:
            fn = mx.compile(functools.partial(self._traced_forward, perturbations=perturbations), inputs=self.state)
            self._traces[key] = fn
        outputs = iter(fn(_fields(video), _fields(audio)))
        return tuple(None if m is None else next(outputs) for m in (video, audio))

    def _traced_forward(self, video: dict, audio: dict, perturbations: BatchPerturbations | None) -> list[mx.array]:
        v, a = self._forward(_modality(video), _modality(audio), perturbations)
        return [o for o in (v, a) if o is not None]

    def _forward(
        self, video: Modality | None, audio: Modality | None, perturbations: BatchPerturbations | None
    ) -> tuple[mx.array | None, mx.array | None]:
        vargs, aargs = self.preprocess(video, audio)
        vx = None if vargs is None else vargs.x
        ax = None if aargs is None else aargs.x
        unperturbed = no_perturbations((vx if vx is not None else ax).shape[0])
        for i, block in enumerate(self.transformer_blocks):
            masks = unperturbed if perturbations is None else perturbations.block(i)
            vx, ax = block(vx, ax, vargs, aargs, masks)
        return self.postprocess(vx, ax, vargs, aargs)


_MODALITY_FIELDS = tuple(f.name for f in dataclasses.fields(Modality))


def _fields(m: Modality | None) -> dict[str, mx.array]:
    # Absent optional fields (None) stay out of the traced inputs; the trace key records them.
    if m is None:
        return {}
    return {name: getattr(m, name) for name in _MODALITY_FIELDS if getattr(m, name) is not None}


def _modality(fields: dict[str, mx.array]) -> Modality | None:
    return Modality(**fields) if fields else None
