"""LTX-2.3 (22B, `model_version` 2.3.x): one file, Gemma 3, BigVGAN + bandwidth extension at 48 kHz."""

from ltxmlx.generations.base import Generation

GENERATION = Generation(
    name="2.3", title="LTX-2.3 22B", since=(2, 3), layout="single", default_steps=30, stg_blocks=(28,),
    image_crf=33, text_encoder="gemma3", video_decoders=("conv",), distilled_sampler="euler",
    transformer_bytes=2 * 18.99e9, text_encoder_bytes=2 * 12.19e9,
)
