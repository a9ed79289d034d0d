"""Parity runner for the LoRA fusion cases: probe weights fused with both official numeric rules.

The fusion runs as the builder's weight transform, so the fused dict is also loaded strictly into
the transformer built from the file's config.
"""

from __future__ import annotations

import mlx.core as mx
from mlx.utils import tree_flatten

from ltxmlx.loader import build
from ltxmlx.loader.lora import fuse_loras
from ltxmlx.loader.specs.transformer import KEY_OPS

_RULE_SUFFIX = {"float32": "fused_fp32", "bf16": "fused_bf16_rule"}


def run(case) -> dict[str, mx.array]:
    loras = [(case.checkpoint_path(1), float(case.config["strength"]))]
    expected = case.config["weights_changed_by_lora"]
    out = {}
    for rule, suffix in _RULE_SUFFIX.items():

        def transform(weights: dict[str, mx.array]) -> dict[str, mx.array]:
            fused, report = fuse_loras(weights, loras, KEY_OPS, rule=rule)
            if report.fused_weights != expected:
                raise AssertionError(f"LoRA changed {report.fused_weights} weights, the official fusion {expected}")
            return fused

        model = build("transformer", case.checkpoint_path(0), dtype=mx.float32, transform=transform)
        params = dict(tree_flatten(model.parameters()))
        for key in case.config["probe_keys"]:
            out[f"{key}.{suffix}"] = params[key]
    return out
