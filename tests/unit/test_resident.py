"""Resident models: `build` reuses modules only inside `resident()`, keyed by what changes the weights."""

from __future__ import annotations

import shutil

import mlx.core as mx
import pytest

from ltxmlx.loader import build
from ltxmlx.loader.resident import ResidentPool, module_bytes, resident
from tests.conftest import tiny_checkpoint


@pytest.fixture
def ckpt():
    return tiny_checkpoint("19b")


def test_outside_resident_every_build_loads(ckpt):
    assert build("vocoder", ckpt, dtype=mx.float32) is not build("vocoder", ckpt, dtype=mx.float32)


def test_inside_resident_same_key_is_reused_and_dtype_is_part_of_the_key(ckpt):
    with resident() as pool:
        a = build("vocoder", ckpt, dtype=mx.float32)
        assert build("vocoder", ckpt, dtype=mx.float32) is a
        assert build("vocoder", ckpt, dtype=mx.bfloat16) is not a
        assert pool.hits == 1 and pool.misses == 2
    assert not pool.modules  # an own pool is emptied when the context ends


def test_a_changed_file_is_built_again(ckpt, tmp_path):
    copy = tmp_path / "copy.safetensors"
    shutil.copy(ckpt, copy)
    with resident():
        a = build("vocoder", copy, dtype=mx.float32)
        copy.write_bytes(copy.read_bytes())  # same content, new mtime: the identity changed
        assert build("vocoder", copy, dtype=mx.float32) is not a


def test_unnamed_transform_bypasses_pool_and_named_one_is_keyed(ckpt):
    def unnamed(w):
        return w

    def named(w):
        return w

    named.pool_key = ("lora", 1.0)
    with resident() as pool:
        assert build("vocoder", ckpt, dtype=mx.float32, transform=unnamed) is not \
            build("vocoder", ckpt, dtype=mx.float32, transform=unnamed)
        plain = build("vocoder", ckpt, dtype=mx.float32)
        fused = build("vocoder", ckpt, dtype=mx.float32, transform=named)
        assert fused is not plain and build("vocoder", ckpt, dtype=mx.float32, transform=named) is fused
        assert len(pool.modules) == 2


def test_next_job_evicts_what_it_does_not_use(ckpt):
    pool = ResidentPool()
    with resident(pool):
        pool.begin_job()
        voc = build("vocoder", ckpt, dtype=mx.float32)
        dec = build("audio_decoder", ckpt, dtype=mx.float32)
        pool.begin_job()  # the next job shares the vocoder only
        assert build("vocoder", ckpt, dtype=mx.float32) is voc
        build("vocoder", ckpt, dtype=mx.bfloat16)  # a miss: the audio decoder is dropped
        assert all(k[0] != "audio_decoder" for k in pool.modules)
        assert build("audio_decoder", ckpt, dtype=mx.float32) is not dec
    assert pool.modules  # a caller's pool outlives the context


def test_budget_drops_least_recently_used(ckpt):
    with resident(ResidentPool(max_bytes=0)) as pool:
        first = build("vocoder", ckpt, dtype=mx.float32)
        assert module_bytes(first) > 0
        build("audio_decoder", ckpt, dtype=mx.float32)
        assert [k[0] for k in pool.modules] == ["audio_decoder"]
