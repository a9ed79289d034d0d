"""Compare a port's outputs with the reference under the index's allclose rule."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ltxmlx.parity.fixtures import Case

_ROW_MASK_NOTE = re.compile(r"compare only rows where in\.(\w+) == 1")


@dataclass(frozen=True)
class OutputResult:
    name: str
    max_abs: float
    max_rel: float  # max |port - ref| / max |ref|
    atol: float
    rtol: float
    passed: bool
    problem: str = ""
    ratio: float = 0.0  # max of |port - ref| / (atol + rtol*|ref|): passes when <= 1


def _row_mask(case: Case, spec: dict, shape: tuple[int, ...]) -> np.ndarray | None:
    m = _ROW_MASK_NOTE.search(spec.get("note", ""))
    if m is None:
        return None
    mask = case.input(m.group(1)).astype(bool)
    return np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim)), shape)


def compare_output(case: Case, name: str, port) -> OutputResult:
    spec = case.outputs[name]
    ref = case.reference(name)
    atol, rtol = float(spec.get("atol", 0.0)), float(spec.get("rtol", 0.0))
    got = np.asarray(port)
    if got.shape != ref.shape:
        return OutputResult(name, np.inf, np.inf, atol, rtol, False, f"shape {got.shape} vs reference {ref.shape}", np.inf)
    if spec.get("exact"):
        same = bool(np.array_equal(got.astype(ref.dtype), ref))
        diff = 0.0 if same else float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
        return OutputResult(name, diff, diff, 0.0, 0.0, same, "" if same else "exact data differs", 0.0 if same else np.inf)
    got64, ref64 = got.astype(np.float64), ref.astype(np.float64)
    mask = _row_mask(case, spec, ref.shape)
    if mask is not None:
        got64, ref64 = got64[mask], ref64[mask]
    if not np.all(np.isfinite(got64)):
        return OutputResult(name, np.inf, np.inf, atol, rtol, False, "non-finite values", np.inf)
    err = np.abs(got64 - ref64)
    max_abs = float(err.max()) if err.size else 0.0
    scale = float(np.abs(ref64).max()) if ref64.size else 0.0
    max_rel = max_abs / scale if scale > 0 else max_abs
    bound = atol + rtol * np.abs(ref64)
    passed = bool(np.all(err <= bound))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.max(np.where(err > 0, err / bound, 0.0))) if err.size else 0.0
    return OutputResult(name, max_abs, max_rel, atol, rtol, passed, "", ratio)
