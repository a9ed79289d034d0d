"""The audio-video transformer: LTX-2 / LTX-2.3 single files and the LTX-2.5 split transformer file."""

from __future__ import annotations

from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec
from ltxmlx.model.transformer import LTXModel, TransformerConfig

# Module attribute names equal the official keys once the prefix is stripped; the text
# connectors under the same prefix belong to the text path.
KEY_OPS = KeyOps(
    prefix="model.diffusion_model.",
    exclude=(r"^(video|audio)_embeddings_connector\.",),
)


def make_transformer(config: dict) -> LTXModel:
    return LTXModel(TransformerConfig.from_config(config["transformer"]))


SPECS = {"transformer": ComponentSpec("transformer", KEY_OPS, make_transformer)}
