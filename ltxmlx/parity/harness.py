"""Run parity cases and summarise them: PASS, FAIL or NOT RUN (never counted as passed)."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import mlx.core as mx
import numpy as np

from ltxmlx.parity.compare import OutputResult, compare_output
from ltxmlx.parity.fixtures import Case
from ltxmlx.parity.runners import runner_for

PASS, FAIL, NOT_RUN = "PASS", "FAIL", "NOT RUN"


@dataclass
class CaseResult:
    case: Case
    status: str
    outputs: list[OutputResult] = field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0

    @property
    def worst(self) -> OutputResult | None:
        """The output closest to (or furthest past) its tolerance."""
        return max(self.outputs, key=lambda r: r.ratio, default=None)


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, mx.array):
        if x.dtype == mx.bfloat16:
            x = x.astype(mx.float32)
        return np.array(x)
    return np.asarray(x)


def run_case(case: Case) -> CaseResult:
    runner = runner_for(case.component)
    if runner is None:
        return CaseResult(case, NOT_RUN, detail=f"no runner for component {case.component!r} yet")
    start = time.perf_counter()
    try:
        produced = runner.run(case)
    except Exception as e:  # a crash in one case must not hide the others' results
        return CaseResult(
            case, FAIL, detail=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}",
            seconds=time.perf_counter() - start,
        )
    seconds = time.perf_counter() - start
    results = [compare_output(case, name, _to_numpy(produced[name])) for name in case.outputs if name in produced]
    missing = [name for name in case.outputs if name not in produced]
    status = PASS if results and not missing and all(r.passed for r in results) else FAIL
    detail = f"missing outputs: {', '.join(missing)}" if missing else ""
    return CaseResult(case, status, results, detail, seconds)
