"""The model generations: one entry each, looked up by name or by a checkpoint's `model_version`."""

from __future__ import annotations

from ltxmlx.errors import ConfigError
from ltxmlx.generations import ltx2, ltx23, ltx25
from ltxmlx.generations.base import Generation, version_tuple

GENERATIONS: dict[str, Generation] = {g.name: g for g in (ltx2.GENERATION, ltx23.GENERATION, ltx25.GENERATION)}
# The tiny random-weight test models (2 transformer blocks) of every generation: a short schedule and
# an STG block that exists in them, so their guided runs stay seconds long.
TINY_MODEL_DEFAULTS = {"default_steps": 4, "stg_blocks": [1]}


def get(name: str) -> Generation:
    """The generation called `name` ("2.0", "2.3", "2.5")."""
    if name not in GENERATIONS:
        raise ConfigError("model.version", name, f"one of {', '.join(GENERATIONS)}")
    return GENERATIONS[name]


def for_model_version(model_version: str) -> Generation:
    """The generation whose settings apply to a checkpoint's `model_version` metadata."""
    version = version_tuple(model_version)
    found = [g for g in GENERATIONS.values() if g.since <= version]
    if not found or version[0] != 2:
        raise ConfigError("model_version", model_version,
                          f"an LTX-2 version this port knows ({', '.join(GENERATIONS)})")
    return max(found, key=lambda g: g.since)


__all__ = ["GENERATIONS", "TINY_MODEL_DEFAULTS", "Generation", "for_model_version", "get", "version_tuple"]
