"""Optional dependencies: imported through `require`, which names the extra to install when one is missing."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from ltxmlx.errors import LtxmlxError


class MissingExtraError(LtxmlxError):
    """A feature needs a package of an optional extra that is not installed."""

    def __init__(self, module: str, extra: str, feature: str):
        self.module, self.extra = module, extra
        super().__init__(f"{feature} needs {module!r}, which is not installed: pip install 'ltxmlx[{extra}]'")


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module`, or raise MissingExtraError naming `extra`."""
    if not available(module):
        raise MissingExtraError(module, extra, feature)
    return importlib.import_module(module)
