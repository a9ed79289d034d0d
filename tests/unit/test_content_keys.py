"""Stage keys name what went in, not where it lay: copies of the same weights give the same keys
(a shared cache hits across runs and machines, a re-download keeps them); other bytes change them."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest

from ltxmlx.config.compose import compose_config
from ltxmlx.config.plan import build_plan
from ltxmlx.config.validate import to_run_config
from ltxmlx.runner.job import load_pipeline, resolve_weights
from ltxmlx.weights import content_identity


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp("weights")
    cfg = to_run_config(compose_config(["+job=smoke", f"paths.cache={cache}"]))
    resolved, weights = resolve_weights(cfg, download=False)
    return resolved, weights


def _copy_weights(resolved, weights, dest):
    model = {}
    for name, path in weights.items():
        target = dest / name
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy(path, target)
            os.utime(target, (1_000_000_000, 1_000_000_000))  # another mtime, as after a re-download
        model[name] = str(target)
    return dataclasses.replace(resolved, model=dataclasses.replace(resolved.model, **model))


def test_copied_weights_give_identical_stage_keys(tiny, tmp_path):
    resolved, weights = tiny
    moved = _copy_weights(resolved, weights, tmp_path)
    a = build_plan(resolved, load_pipeline(resolved), 1)
    b = build_plan(moved, load_pipeline(moved), 1)
    assert [p.keys for p in a.items] == [p.keys for p in b.items]


def test_changed_text_encoder_changes_the_text_key(tiny, tmp_path):
    resolved, weights = tiny
    moved = _copy_weights(resolved, weights, tmp_path)
    enc = tmp_path / "text_encoder"
    cfg_json = next(enc.rglob("config.json"))
    cfg_json.write_text(cfg_json.read_text() + " ")  # other bytes, same meaning
    a = build_plan(resolved, load_pipeline(resolved), 1).items[0].keys
    b = build_plan(moved, load_pipeline(moved), 1).items[0].keys
    assert a["text"] != b["text"]


def test_content_identity_ignores_path_and_mtime(tmp_path):
    f = tmp_path / "a.safetensors"
    f.write_bytes(b"x" * 100)
    g = tmp_path / "b.safetensors"
    shutil.copy(f, g)
    os.utime(g, (1, 1))
    assert content_identity(f) == content_identity(g)
    g.write_bytes(b"y" * 100)
    assert content_identity(f) != content_identity(g)
