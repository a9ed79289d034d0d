"""LoRA fusion: exact math, counts, stacking and the errors a user needs."""

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.errors import ShapeError
from ltxmlx.loader.builder import mapped_weights
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.loader.lora import LoraError, fuse_loras
from ltxmlx.loader.specs.transformer import KEY_OPS

TINY = Path(__file__).parents[1] / "fixtures" / "parity" / "19b"


def _lora(path, modules, rank=2, seed=0, out=4, inp=3):
    tensors = {}
    key = mx.random.key(seed)
    for m in modules:
        ka, kb, key = mx.random.split(key, 3)
        tensors[f"diffusion_model.{m}.lora_A.weight"] = mx.random.normal((rank, inp), key=ka)
        tensors[f"diffusion_model.{m}.lora_B.weight"] = mx.random.normal((out, rank), key=kb)
    mx.save_safetensors(str(path), tensors)
    return tensors


def _weights():
    key = mx.random.key(42)
    return {"a.weight": mx.random.normal((4, 3), key=key), "a.bias": mx.zeros((4,)), "b.weight": mx.ones((4, 3))}


def test_fusion_is_w_plus_strength_b_at_a_and_stacks(tmp_path):
    t1 = _lora(tmp_path / "one.safetensors", ["a"], seed=1)
    t2 = _lora(tmp_path / "two.safetensors", ["a", "b"], seed=2)
    w = _weights()
    before = np.array(w["a.weight"])
    fused, report = fuse_loras(w, [(tmp_path / "one.safetensors", 0.5), (tmp_path / "two.safetensors", -1.0)])
    d1 = np.array(t1["diffusion_model.a.lora_B.weight"]) @ np.array(t1["diffusion_model.a.lora_A.weight"])
    d2 = np.array(t2["diffusion_model.a.lora_B.weight"]) @ np.array(t2["diffusion_model.a.lora_A.weight"])
    np.testing.assert_allclose(np.array(fused["a.weight"]), before + 0.5 * d1 - d2, rtol=1e-5, atol=1e-6)
    assert [m.matched for m in report.loras] == [1, 2] and report.fused_weights == 2
    np.testing.assert_array_equal(np.array(w["a.weight"]), before)  # input untouched
    assert fused["a.bias"] is w["a.bias"]


def test_bf16_rule_rounds_the_fused_weight(tmp_path):
    _lora(tmp_path / "l.safetensors", ["a"])
    fused, _ = fuse_loras(_weights(), [(tmp_path / "l.safetensors", 1.0)], rule="bf16")
    x = np.array(fused["a.weight"])
    assert fused["a.weight"].dtype == mx.float32
    np.testing.assert_array_equal(x, np.array(mx.array(x).astype(mx.bfloat16).astype(mx.float32)))


def test_lora_that_matches_nothing_is_an_error(tmp_path):
    _lora(tmp_path / "other.safetensors", ["x.y", "z"])
    with pytest.raises(LoraError, match="matches no weight.*other.safetensors|other.safetensors.*matches no weight"):
        fuse_loras(_weights(), [(tmp_path / "other.safetensors", 1.0)])


def test_unmatched_keys_error_or_report(tmp_path):
    _lora(tmp_path / "part.safetensors", ["a", "missing.layer"])
    with pytest.raises(LoraError, match="missing.layer"):
        fuse_loras(_weights(), [(tmp_path / "part.safetensors", 1.0)])
    _, report = fuse_loras(_weights(), [(tmp_path / "part.safetensors", 1.0)], strict=False)
    assert report.loras[0].matched == 1 and report.loras[0].unmatched[0].startswith("diffusion_model.missing")


def test_shape_mismatch_and_lone_factor(tmp_path):
    _lora(tmp_path / "wide.safetensors", ["a"], inp=5)
    with pytest.raises(ShapeError, match="does not fit"):
        fuse_loras(_weights(), [(tmp_path / "wide.safetensors", 1.0)])
    mx.save_safetensors(str(tmp_path / "lone.safetensors"), {"diffusion_model.a.lora_A.weight": mx.zeros((2, 3))})
    with pytest.raises(LoraError, match="partner"):
        fuse_loras(_weights(), [(tmp_path / "lone.safetensors", 1.0)])
    with pytest.raises(ValueError, match="fuse rule"):
        fuse_loras(_weights(), [], rule="fp16")


def test_official_distilled_lora_counts_on_tiny_transformer():
    base = mapped_weights(open_checkpoint(TINY / "tiny_19b.safetensors"), KEY_OPS, mx.float32)
    fused, report = fuse_loras(base, [(TINY / "tiny_distilled_lora.safetensors", 1.0)], KEY_OPS)
    assert report.fused_weights == 56 and report.loras[0].matched == 56 and not report.loras[0].unmatched
    changed = [k for k in base if not np.array_equal(np.array(base[k]), np.array(fused[k]))]
    assert len(changed) == 56 and all(k.endswith(".weight") for k in changed)
