"""The tiny random-weight model: byte-identical files across runs, strict loads of every component."""

import hashlib

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.loader import build
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.pipelines.config import LoraSpec
from ltxmlx.pipelines.models import CheckpointInfo, check_loras
from ltxmlx.pipelines.tiny import MODEL_VERSION, ensure_tiny_checkpoints
from ltxmlx.text_encoders.gemma.loading import load_prompt_encoder

from tests.conftest import encode_prompts

SINGLE_FILE = ("transformer", "video_encoder", "video_decoder", "video_latent_stats", "audio_encoder",
               "audio_decoder", "vocoder")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory):
    return (ensure_tiny_checkpoints(tmp_path_factory.mktemp("a")),
            ensure_tiny_checkpoints(tmp_path_factory.mktemp("b")))


def test_files_are_byte_identical_across_runs(two_copies):
    a, b = two_copies
    for name in ("checkpoint", "spatial_upsampler", "distilled_lora"):
        assert digest(a[name]) == digest(b[name]), name
    assert digest(a["text_encoder"] / "model.safetensors") == digest(b["text_encoder"] / "model.safetensors")


def test_second_call_reuses_the_files(two_copies, tmp_path):
    a, _ = two_copies
    before = a["checkpoint"].stat().st_mtime_ns
    again = ensure_tiny_checkpoints(a["checkpoint"].parent.parent)
    assert again == a and a["checkpoint"].stat().st_mtime_ns == before


def test_single_file_has_the_official_metadata(two_copies):
    ckpt = open_checkpoint(two_copies[0]["checkpoint"])
    assert set(ckpt.config) == {"transformer", "vae", "audio_vae", "vocoder"}
    assert str(ckpt.metadata["model_version"]) == MODEL_VERSION
    assert any(k.startswith("model.diffusion_model.transformer_blocks.") for k in ckpt.keys())  # noqa: SIM118
    assert any(k.startswith("vae.decoder.") for k in ckpt.keys())  # noqa: SIM118


@pytest.mark.parametrize("component", SINGLE_FILE)
def test_every_component_loads_strictly_with_finite_weights(two_copies, component):
    model = build(component, two_copies[0]["checkpoint"], dtype=mx.float32)
    from mlx.utils import tree_flatten

    for key, value in tree_flatten(model.parameters()):
        assert np.isfinite(np.array(value)).all(), key


def test_upsampler_lora_and_text_path_load(two_copies):
    paths = two_copies[0]
    build("spatial_upsampler", paths["spatial_upsampler"], dtype=mx.float32)
    check_loras(CheckpointInfo.read(paths["checkpoint"]).config, [LoraSpec(str(paths["distilled_lora"]))])
    encoder = load_prompt_encoder(paths["text_encoder"], paths["checkpoint"], dtype=mx.float32, max_length=128)
    (emb,) = encode_prompts(encoder, ["a tiny test"])
    assert np.isfinite(np.array(emb.video)).all() and emb.video.shape[0] == 1
