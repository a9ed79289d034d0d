"""What one LTX model generation is: the settings and parts that differ between generations.

Each generation is one `Generation` entry in its own module (`ltx2`, `ltx23`, `ltx25`) registered in
`ltxmlx.generations.GENERATIONS`. Config validation, the pipelines and the memory estimates all read
these entries; nothing else in the package branches on a version.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.errors import ConfigError


def version_tuple(model_version: str) -> tuple[int, ...]:
    """'2.3.0' -> (2, 3, 0); official files may write hyphens ('2-5-0')."""
    text = str(model_version).strip().replace("-", ".")
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError as e:
        raise ConfigError("model_version", model_version, "a version like '2.3.0' in the checkpoint metadata") from e


@dataclass(frozen=True)
class Generation:
    """One model generation.

    since: the first `model_version` (checkpoint metadata) that uses this entry's settings; the
        official pipelines choose their defaults the same way (2.4 and later take the 2.4 settings).
    layout: "single" (one file: transformer, connectors, VAEs, vocoder) or "split" (one file per component).
    text_encoder: key of `ltxmlx.text_encoders.TEXT_ENCODERS` ("gemma3" or "gemma4").
    video_decoders: the decoders its video VAE files provide ("conv", "diffusion").
    distilled_sampler: stage 1 of the distilled pipeline, "euler" or "euler_ancestral" (2.5: eta 1,
        its loop noise seeded from the item seed + `ancestral_seed_offset`).
    image_crf: H.264 CRF of the re-encode applied to conditioning images (33 up to 2.3, 18 from 2.4).
    transformer_bytes: bf16 size of the transformer weights (memory estimates).
    """

    name: str
    title: str
    since: tuple[int, ...]
    layout: str
    default_steps: int
    stg_blocks: tuple[int, ...]
    image_crf: int
    text_encoder: str
    video_decoders: tuple[str, ...]
    distilled_sampler: str
    transformer_bytes: float
    text_encoder_bytes: float
    duration_head: bool = False
    ancestral_seed_offset: int = 10000
    video_cfg: float = 3.0
    audio_cfg: float = 7.0
    stg_scale: float = 1.0
    rescale: float = 0.7
    modality_scale: float = 3.0

    def guider_params(self) -> tuple[GuiderParams, GuiderParams]:
        """The official CLI guidance defaults (video, audio)."""
        common = {"stg_scale": self.stg_scale, "stg_blocks": self.stg_blocks, "rescale_scale": self.rescale,
                  "modality_scale": self.modality_scale}
        return GuiderParams(cfg_scale=self.video_cfg, **common), GuiderParams(cfg_scale=self.audio_cfg, **common)

    def value(self, key: str):
        """A setting by name, for the config resolver `${ltx_gen:<generation>,<key>}`."""
        if key == "guider":
            raise KeyError(key)
        v = getattr(self, key)
        return list(v) if isinstance(v, tuple) else v
