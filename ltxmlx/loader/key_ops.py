"""Declarative key operations: which checkpoint tensors belong to a component and how they are renamed.

A `KeyOps` works on names and shapes only, so the same table maps a real file, a manifest of the
full-size file (in tests) and LoRA targets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class KeyOps:
    """Select -> strip prefix -> drop excluded/ignored -> rename -> transpose.

    prefix: a prefix to select and strip, or a mapping {source prefix: replacement} for components
        assembled from several subtrees.
    exclude: regexes on the stripped key for tensors of *other* components under the same prefix.
    ignore: regexes for tensors the official loader also ignores (known extras of real files).
    renames: (regex, replacement) pairs applied in order to the stripped key.
    transposes: (regex, axes) pairs on the final key: layout changes from PyTorch to MLX.
    """

    prefix: str | Mapping[str, str] = ""
    exclude: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()
    transposes: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def _prefixes(self) -> Mapping[str, str]:
        return {self.prefix: ""} if isinstance(self.prefix, str) else self.prefix

    def map_key(self, key: str) -> str | None:
        """The module key for a checkpoint key, or None when the tensor is not this component's."""
        for src, dst in self._prefixes().items():
            if key.startswith(src):
                stripped = dst + key[len(src):]
                break
        else:
            return None
        if any(re.search(p, stripped) for p in self.exclude + self.ignore):
            return None
        for pattern, repl in self.renames:
            stripped = re.sub(pattern, repl, stripped)
        return stripped

    def map_keys(self, keys: Iterable[str]) -> dict[str, str]:
        """{module key: checkpoint key} for every selected checkpoint key."""
        out: dict[str, str] = {}
        for key in keys:
            new = self.map_key(key)
            if new is None:
                continue
            if new in out:
                raise ValueError(f"key ops map both {out[new]!r} and {key!r} to {new!r}")
            out[new] = key
        return out

    def unmap_key(self, module_key: str) -> str:
        """The checkpoint key that maps to `module_key` (tables with literal renames only).

        Used to write checkpoints in the official layout; the result is verified by mapping it back.
        """
        key = module_key
        for pattern, repl in reversed(self.renames):
            key = key.replace(repl, re.sub(r"\\(.)", r"\1", pattern.strip("^$")))
        # the most specific destination first: "" matches every key
        for src, dst in sorted(self._prefixes().items(), key=lambda kv: -len(kv[1])):
            if key.startswith(dst):
                candidate = src + key[len(dst):]
                if self.map_key(candidate) == module_key:
                    return candidate
        raise ValueError(f"cannot invert the key ops for {module_key!r}")

    def axes_for(self, module_key: str) -> tuple[int, ...] | None:
        for pattern, axes in self.transposes:
            if re.search(pattern, module_key):
                return axes
        return None

    def mapped_shape(self, module_key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        axes = self.axes_for(module_key)
        if axes is None:
            return tuple(shape)
        if len(axes) != len(shape):
            raise ValueError(f"transpose {axes} for {module_key!r} does not fit its shape {tuple(shape)}")
        return tuple(shape[a] for a in axes)
