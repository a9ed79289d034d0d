"""Text encoders behind one interface: `TEXT_ENCODERS[name]` is a `TextEncoderKind`."""

from __future__ import annotations

from ltxmlx.errors import ConfigError
from ltxmlx.text_encoders.gemma.kind import GEMMA3
from ltxmlx.text_encoders.gemma4.kind import GEMMA4
from ltxmlx.text_encoders.kind import TextEncoderKind

TEXT_ENCODERS: dict[str, TextEncoderKind] = {
    "gemma3": GEMMA3,
    "gemma4": GEMMA4,
}


def text_encoder_kind(name: str) -> TextEncoderKind:
    """The registered kind, or a ConfigError listing the valid names."""
    if name not in TEXT_ENCODERS:
        raise ConfigError("text_encoder_kind", name, f"one of {', '.join(sorted(TEXT_ENCODERS))}")
    return TEXT_ENCODERS[name]


__all__ = ["TEXT_ENCODERS", "TextEncoderKind", "text_encoder_kind"]
