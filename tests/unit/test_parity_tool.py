"""The parity tool never reports success for cases it did not run."""

from __future__ import annotations

from ltxmlx.parity.__main__ import main
from ltxmlx.parity import harness
from tests.conftest import PARITY

INDEX = str(PARITY / "index.json")


def test_not_run_case_exits_non_zero_unless_allowed(monkeypatch, capsys):
    monkeypatch.setattr(harness, "runner_for", lambda component: None)  # as for a component without a runner
    assert main([INDEX, "--case", "common.numerics"]) == 1
    assert "not run" in capsys.readouterr().err
    assert main([INDEX, "--case", "common.numerics", "--allow-not-run"]) == 0


def test_numerics_case_passes_with_parameters_from_the_case(capsys):
    assert main([INDEX, "--case", "common.numerics"]) == 0
    assert "1 passed, 0 failed, 0 not run" in capsys.readouterr().out
