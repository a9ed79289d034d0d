"""Parity runners: component name (as in the fixture index) -> module with `run(case) -> {output: array}`."""

from __future__ import annotations

import importlib
from types import ModuleType

RUNNERS: dict[str, str] = {
    "temporal_upsampler": "ltxmlx.parity.runners.temporal_upsampler",
}


def runner_for(component: str) -> ModuleType | None:
    path = RUNNERS.get(component)
    return importlib.import_module(path) if path else None
