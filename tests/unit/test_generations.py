"""The generation table: the official per-version defaults, and version detection from file metadata."""

import pytest

from ltxmlx.errors import ConfigError
from ltxmlx.generations import GENERATIONS, for_model_version, get


def test_official_defaults_per_generation():
    v19, a19 = get("2.0").guider_params()
    v23, a23 = get("2.3").guider_params()
    v25, a25 = get("2.5").guider_params()
    assert (v19.cfg_scale, v19.stg_scale, v19.rescale_scale, v19.modality_scale) == (3.0, 1.0, 0.7, 3.0)
    assert (a19.cfg_scale, a19.stg_scale, a19.rescale_scale, a19.modality_scale) == (7.0, 1.0, 0.7, 3.0)
    assert v19.stg_blocks == a19.stg_blocks == (29,) and v23.stg_blocks == a23.stg_blocks == (28,)
    assert v25 == v23 and a25 == a23  # official LTX_2_4_PARAMS = the 2.3 guidance
    assert [get(n).default_steps for n in ("2.0", "2.3", "2.5")] == [40, 30, 30]
    assert [get(n).image_crf for n in ("2.0", "2.3", "2.5")] == [33, 33, 18]
    assert get("2.5").distilled_sampler == "euler_ancestral" and get("2.3").distilled_sampler == "euler"
    assert get("2.5").text_encoder == "gemma4" and get("2.3").text_encoder == "gemma3"


@pytest.mark.parametrize("version, name", [("2.0.0", "2.0"), ("2.1.3", "2.0"), ("2.3.0", "2.3"),
                                           ("2.4.0", "2.5"), ("2.5.0", "2.5"), ("2-5-0", "2.5")])
def test_generation_from_model_version(version, name):
    assert for_model_version(version).name == name


@pytest.mark.parametrize("bad", ["", "1.0.0", "3.0.0", "2.x", "latest"])
def test_unknown_model_version_is_refused(bad):
    with pytest.raises(ConfigError, match="model_version"):
        for_model_version(bad)


def test_unknown_generation_lists_the_known_ones():
    with pytest.raises(ConfigError) as e:
        get("2.4")
    assert all(name in str(e.value) for name in GENERATIONS)
