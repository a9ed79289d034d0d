"""Config of the duration head, read from its file's metadata `config`.

The dims of the connector outputs it reads come from `config["transformer"]`; its own sizes from
`config["duration_head"]`. The official configurator fills absent keys with the defaults below (the
head has no finalized config schema), so this port does the same; present values are validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltxmlx.errors import ConfigError

_TRANSFORMER_DEFAULTS = {"cross_attention_dim": 4096, "audio_cross_attention_dim": 2048}
_HEAD_DEFAULTS = {"pooler_hidden_dim": 256, "num_queries": 1, "num_pooler_heads": 4, "mlp_hidden": 256}


def _section(config: dict[str, Any], name: str) -> dict[str, Any]:
    section = config.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(name, section, "a dict")
    return section


def _positive_int(section: dict[str, Any], key: str, default: int, where: str) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}.{key}", value, "a positive integer")
    return value


@dataclass(frozen=True)
class DurationHeadConfig:
    """Sizes of the duration head: connector widths in, pooler width, queries, heads, MLP width."""

    video_dim: int = 4096
    audio_dim: int = 2048
    hidden_dim: int = 256
    num_queries: int = 1
    num_heads: int = 4
    mlp_hidden: int = 256

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DurationHeadConfig":
        """Read the file's full metadata config ({"transformer": {...}, "duration_head": {...}})."""
        if not isinstance(config, dict):
            raise ConfigError("config", type(config).__name__, "a dict")
        tr, head = _section(config, "transformer"), _section(config, "duration_head")
        dims = {k: _positive_int(tr, k, v, "transformer") for k, v in _TRANSFORMER_DEFAULTS.items()}
        sizes = {k: _positive_int(head, k, v, "duration_head") for k, v in _HEAD_DEFAULTS.items()}
        if sizes["pooler_hidden_dim"] % sizes["num_pooler_heads"]:
            raise ConfigError(
                "duration_head.num_pooler_heads", sizes["num_pooler_heads"],
                f"a divisor of pooler_hidden_dim ({sizes['pooler_hidden_dim']})",
            )
        return cls(
            video_dim=dims["cross_attention_dim"],
            audio_dim=dims["audio_cross_attention_dim"],
            hidden_dim=sizes["pooler_hidden_dim"],
            num_queries=sizes["num_queries"],
            num_heads=sizes["num_pooler_heads"],
            mlp_hidden=sizes["mlp_hidden"],
        )
