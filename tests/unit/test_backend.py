"""Process-wide MLX settings of the entry points: compiled kernels persist in the ltxmlx cache folder."""

from __future__ import annotations

import platform

import pytest

from ltxmlx import backend

KEYS = ("MLX_MAX_OPS_PER_BUFFER", "MLX_CUDA_CONV_CACHE_SIZE", "MLX_PTX_CACHE_DIR")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LTXMLX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    return tmp_path


def test_kernel_cache_lives_in_the_ltxmlx_cache_folder(clean_env, monkeypatch):
    import os

    backend.configure()
    assert os.environ["MLX_PTX_CACHE_DIR"] == str(clean_env / "cache" / "mlx-ptx")
    assert os.environ["MLX_CUDA_CONV_CACHE_SIZE"] == "1024"


def test_an_explicit_environment_setting_wins(clean_env, monkeypatch):
    import os

    monkeypatch.setenv("MLX_PTX_CACHE_DIR", "/somewhere/else")
    backend.configure()
    assert os.environ["MLX_PTX_CACHE_DIR"] == "/somewhere/else"


def test_cache_root_defaults_to_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("LTXMLX_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert backend.cache_root() == tmp_path / ".cache" / "ltxmlx"
