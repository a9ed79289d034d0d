"""Every fixture case passes within the official index's tolerances (a case without a runner fails)."""

import pytest

from ltxmlx.parity.fixtures import load_index
from ltxmlx.parity.harness import PASS, run_case

from tests.conftest import PARITY

_, CASES = load_index(PARITY / "index.json")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_matches_official_outputs(case):
    result = run_case(case)
    failing = [f"{r.name}: abs {r.max_abs:.2e} (atol {r.atol:.1e}) {r.problem}" for r in result.outputs if not r.passed]
    assert result.status == PASS, result.detail + "\n" + "\n".join(failing)
    assert len(result.outputs) == len(case.outputs)
