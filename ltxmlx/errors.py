"""Errors the library raises. Each message says what was expected and what was found."""

from __future__ import annotations


class LtxmlxError(Exception):
    """Base class: the CLI prints these as one clear line instead of a traceback."""


class CheckpointError(LtxmlxError):
    """A weight file is unreadable, truncated, of the wrong kind or lacks required metadata."""


class ConfigError(LtxmlxError):
    """A config value the port does not support, or a missing required config key."""

    def __init__(self, key: str, value: object, expected: str):
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"config key {key!r} = {value!r} is not supported (expected {expected})")


class ShapeError(LtxmlxError, ValueError):
    """An input tensor has the wrong shape for the model or operation."""


class MissingKeysError(CheckpointError):
    """A strict load found missing or unexpected weights."""

    def __init__(self, component: str, missing: list[str], unexpected: list[str], path: str = ""):
        self.missing, self.unexpected = missing, unexpected
        parts = [f"{component}: weights do not match the model" + (f" ({path})" if path else "")]
        if missing:
            parts.append(f"{len(missing)} missing, e.g. {', '.join(missing[:5])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:5])}")
        super().__init__("; ".join(parts))


class RunInterrupted(LtxmlxError):
    """The run stopped at a batch boundary because it was asked to; rerunning resumes it."""

    def __init__(self, finished: int, total: int):
        self.finished, self.total = finished, total
        super().__init__(f"stopped at a batch boundary with {finished} of {total} items finished; rerun to resume")
