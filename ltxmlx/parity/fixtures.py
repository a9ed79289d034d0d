"""Read the official parity fixtures: `index.json` plus one safetensors file per case.

Tensor `<name>` of a case is stored under `in.<name>` (inputs) or `out.<name>` (reference outputs);
an input given as {file, key} lives in another case file of the same set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import safe_open

from ltxmlx.errors import LtxmlxError


@dataclass
class Case:
    id: str
    component: str
    generation: str | None
    description: str
    config: dict
    inputs: dict
    outputs: dict
    checkpoints: list[str]
    root: Path
    file: str
    tolerance_class: str | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def _read(self, file: str, key: str) -> np.ndarray:
        if (file, key) not in self._cache:
            with safe_open(str(self.root / file), "np") as f:
                if key not in f.keys():
                    raise LtxmlxError(f"{self.id}: {file} has no tensor {key!r}")
                self._cache[(file, key)] = f.get_tensor(key)
        return self._cache[(file, key)]

    def input(self, name: str) -> np.ndarray:
        spec = self.inputs.get(name)
        if spec is None:
            raise LtxmlxError(f"{self.id}: no input {name!r} (inputs: {', '.join(self.inputs)})")
        if "file" in spec:
            return self._read(spec["file"], spec["key"])
        return self._read(self.file, "in." + name)

    def reference(self, name: str) -> np.ndarray:
        return self._read(self.file, "out." + name)

    def checkpoint_path(self, which: int | str = 0) -> Path:
        if isinstance(which, int):
            return self.root / self.checkpoints[which]
        if which not in self.checkpoints:
            raise LtxmlxError(f"{self.id}: checkpoint {which!r} not among {self.checkpoints}")
        return self.root / which


def load_index(index_path: str | Path) -> tuple[dict, list[Case]]:
    index_path = Path(index_path)
    if not index_path.is_file():
        raise LtxmlxError(f"{index_path}: parity index not found")
    index = json.loads(index_path.read_text())
    root = index_path.parent
    cases = [
        Case(
            id=c["id"], component=c["component"], generation=c.get("generation"),
            description=c.get("description", ""), config=c.get("config", {}), inputs=c.get("inputs", {}),
            outputs=c["outputs"], checkpoints=c.get("checkpoints", []), root=root, file=c["file"],
            tolerance_class=c.get("tolerance_class"),
        )
        for c in index["cases"]
    ]
    return index, cases
