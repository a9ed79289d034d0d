from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PARITY = FIXTURES / "parity"


@pytest.fixture
def parity_dir() -> Path:
    return PARITY
