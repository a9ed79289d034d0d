"""Duration head file (LTX-2.5 ``model_patches``): ``duration_head.*`` keys in the module's own layout."""

from __future__ import annotations

from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec
from ltxmlx.model.duration_head import DurationHead, DurationHeadConfig

# The prefix is stripped wherever the head is stored (its own file or beside other weights).
KEY_OPS = KeyOps(prefix="duration_head.")

SPECS = {
    "duration_head": ComponentSpec(
        name="duration_head",
        key_ops=KEY_OPS,
        make=lambda config: DurationHead(DurationHeadConfig.from_config(config)),
    ),
}
