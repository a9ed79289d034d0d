"""LTX-2 (19B, `model_version` 2.0.x): one file, Gemma 3, HiFi-GAN vocoder at 24 kHz."""

from ltxmlx.generations.base import Generation

GENERATION = Generation(
    name="2.0", title="LTX-2 19B", since=(2, 0), layout="single", default_steps=40, stg_blocks=(29,),
    image_crf=33, text_encoder="gemma3", video_decoders=("conv",), distilled_sampler="euler",
    transformer_bytes=2 * 18.88e9, text_encoder_bytes=2 * 12.19e9,
)
