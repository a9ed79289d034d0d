"""LTX-2.5 (22B, `model_version` 2.5.x; the official 2.4+ settings): one file per component, Gemma 4
with its text projection, conv and diffusion video decoders, a duration head, ancestral distilled stage 1."""

from ltxmlx.generations.base import Generation

GENERATION = Generation(
    name="2.5", title="LTX-2.5 22B", since=(2, 4), layout="split", default_steps=30, stg_blocks=(28,),
    image_crf=18, text_encoder="gemma4", video_decoders=("conv", "diffusion"), distilled_sampler="euler_ancestral",
    transformer_bytes=42.02e9, text_encoder_bytes=26.26e9, duration_head=True,
)
