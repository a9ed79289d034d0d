"""Every fixture case the port supports passes within the official index's tolerances.

Cases whose component has no runner yet are reported as skipped with that reason, never as passed.
"""

import pytest

from ltxmlx.parity.fixtures import load_index
from ltxmlx.parity.harness import NOT_RUN, PASS, run_case

from tests.conftest import PARITY

_, CASES = load_index(PARITY / "index.json")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_matches_official_outputs(case):
    result = run_case(case)
    if result.status == NOT_RUN:
        pytest.skip(result.detail)
    failing = [f"{r.name}: abs {r.max_abs:.2e} (atol {r.atol:.1e}) {r.problem}" for r in result.outputs if not r.passed]
    assert result.status == PASS, result.detail + "\n" + "\n".join(failing)
    assert len(result.outputs) == len(case.outputs)
