"""The registry of loadable components: for each, its key-op table and how to build its module.

Each model family declares its components in `specs/<family>.py` as `SPECS = {name: ComponentSpec}`.
This is the one place where checkpoint layout meets module layout (design rule 3).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import mlx.nn as nn

from ltxmlx.errors import LtxmlxError
from ltxmlx.loader.key_ops import KeyOps

_FAMILIES = ("transformer", "video_vae", "audio", "upsampler", "text", "duration_head")


@dataclass(frozen=True)
class ComponentSpec:
    """name: registry key; key_ops: a KeyOps or config -> KeyOps; make: config -> module.

    keep_float32: regexes of module keys loaded in float32 whatever the run dtype (e.g. filters that
    must stay exact).
    prepare: optional pure function {module key: array} -> {module key: array} run after the key ops,
    for layout changes that are not one-to-one renames (e.g. folding static gates into a Linear).
    It must work on shapes alone too (lazy arrays), so manifests can be checked without weights.
    """

    name: str
    key_ops: KeyOps | Callable[[dict], KeyOps]
    make: Callable[[dict], nn.Module]
    keep_float32: tuple[str, ...] = ()
    prepare: Callable[[dict], dict] | None = None

    def ops(self, config: dict) -> KeyOps:
        return self.key_ops if isinstance(self.key_ops, KeyOps) else self.key_ops(config)


def registry() -> dict[str, ComponentSpec]:
    """Every component of every family (imported on first use: each family pulls in its models)."""
    out: dict[str, ComponentSpec] = {}
    for family in _FAMILIES:
        out.update(importlib.import_module(f"ltxmlx.loader.specs.{family}").SPECS)
    return out


def get_spec(component: str) -> ComponentSpec:
    specs = registry()
    if component not in specs:
        raise LtxmlxError(f"unknown component {component!r}; known: {', '.join(sorted(specs))}")
    return specs[component]
