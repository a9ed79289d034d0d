"""Building a component from the wrong file fails with one clear message."""

import mlx.core as mx
import pytest

from ltxmlx.errors import ConfigError
from ltxmlx.loader import build

from tests.conftest import PARITY


def test_building_the_wrong_upsampler_kind_is_refused():
    with pytest.raises(ConfigError, match="this file is spatial"):
        build("temporal_upsampler", PARITY / "common/tiny_spatial_upscaler_x2.safetensors", dtype=mx.float32)
