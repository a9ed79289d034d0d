"""Bad pipeline input fails with a clear error before any model is built."""

import math
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import save_file

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.media.images import ImageInputError
from ltxmlx.errors import ConfigError, LtxmlxError, ShapeError
from ltxmlx.loader.lora import LoraError
from ltxmlx.pipelines import factory
from ltxmlx.pipelines.api import ImageCondition, RenderItem
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.runner.render import render
from ltxmlx.config.validate import validate_items
from tests.conftest import PARITY

CKPT = PARITY / "19b" / "tiny_19b.safetensors"
FILES = ModelFiles(str(CKPT), str(PARITY / "common" / "tiny_gemma3"),
                   str(PARITY / "common" / "tiny_spatial_upscaler_x2.safetensors"),
                   LoraSpec(str(PARITY / "19b" / "tiny_distilled_lora.safetensors")))
GUIDER = GuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)


def cfg(**kw) -> PipelineConfig:
    base = {"kind": "two_stage", "files": FILES, "height": 64, "width": 128, "num_frames": 9, "steps": 2,
                "video_guider": GUIDER, "audio_guider": GUIDER, "dtype": "float32"}
    base.update(kw)
    return PipelineConfig(**base)


@pytest.fixture(autouse=True)
def no_model_builds(monkeypatch):
    """Any transformer build during these tests is a failure: validation must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was built before validation finished")

    monkeypatch.setattr("ltxmlx.pipelines.diffusion_stage.build_transformer", refuse)


def test_valid_config_makes_the_five_stages():
    names = [s.name for s in make_pipeline(cfg())]
    assert names == ["text", "stage1", "upsample", "stage2", "decode"]
    assert [s.name for s in make_pipeline(cfg(kind="one_stage", files=replace(FILES, distilled_lora=None)))] == [
        "text", "stage1", "decode"]


@pytest.mark.parametrize("kw, key", [
    ({"height": 96}, "height"),  # two-stage needs multiples of 64
    ({"width": 32}, "width"),
    ({"num_frames": 10}, "num_frames"),
    ({"fps": 0.0}, "fps"),
    ({"steps": 0}, "steps"),
    ({"max_batch_size": 0}, "max_batch_size"),
    ({"dtype": "int8"}, "dtype"),
    ({"stage1_sigmas": (1.0, 0.5)}, "stage1_sigmas"),  # must end in 0
    ({"video_guider": replace(GUIDER, cfg_scale=-1.0)}, "video_guider.cfg_scale"),
    ({"audio_guider": replace(GUIDER, stg_scale=math.nan)}, "audio_guider.stg_scale"),
    ({"video_guider": replace(GUIDER, rescale_scale=1.5)}, "video_guider.rescale_scale"),
    ({"video_guider": replace(GUIDER, modality_scale=math.inf)}, "video_guider.modality_scale"),
    ({"files": replace(FILES, distilled_lora=None)}, "files.distilled_lora"),
    ({"files": replace(FILES, spatial_upsampler="/nonexistent/up.safetensors")}, "files.spatial_upsampler"),
    ({"kind": "distilled", "files": replace(FILES, distilled_lora=None)}, "video_guider"),
])
def test_bad_config_is_refused_naming_the_key(kw, key):
    with pytest.raises(ConfigError) as e:
        make_pipeline(cfg(**kw))
    assert e.value.key == key


def test_one_stage_accepts_multiples_of_32():
    one = make_pipeline(cfg(kind="one_stage", height=96, width=160, files=replace(FILES, distilled_lora=None)))
    assert [s.name for s in one] == ["text", "stage1", "decode"]
    with pytest.raises(ConfigError, match="multiple of 64"):  # the same size, two-stage: half of 96 is no latent
        make_pipeline(cfg(height=96, width=160))


def test_stg_block_outside_the_model_is_refused():
    with pytest.raises(ConfigError, match="stg_blocks"):
        make_pipeline(cfg(video_guider=replace(GUIDER, stg_blocks=(2,))))  # the tiny model has 2 blocks


def test_lora_for_another_model_is_refused(tmp_path):
    other = tmp_path / "other_lora.safetensors"
    rng = np.random.default_rng(0)
    save_file({"diffusion_model.unet.down.0.proj.lora_A.weight": rng.standard_normal((2, 8)).astype(np.float32),
               "diffusion_model.unet.down.0.proj.lora_B.weight": rng.standard_normal((8, 2)).astype(np.float32)},
              str(other))
    with pytest.raises(LoraError, match="matches no weight"):
        make_pipeline(cfg(loras=(LoraSpec(str(other)),)))


def test_lora_with_wrong_shapes_is_refused(tmp_path):
    wrong = tmp_path / "wide_lora.safetensors"
    rng = np.random.default_rng(0)
    module = "diffusion_model.transformer_blocks.0.attn1.to_q"
    save_file({f"{module}.lora_A.weight": rng.standard_normal((2, 4096)).astype(np.float32),
               f"{module}.lora_B.weight": rng.standard_normal((4096, 2)).astype(np.float32)}, str(wrong))
    with pytest.raises(ShapeError):
        make_pipeline(cfg(loras=(LoraSpec(str(wrong)),)))


def test_keyframe_outside_the_video_is_refused(tmp_path):
    item = RenderItem("x", "p", "n", 1, (ImageCondition(str(tmp_path / "a.png"), frame=9),))
    with pytest.raises(ConfigError, match="frame"):
        validate_items(cfg(), [item])


def test_missing_image_is_refused_before_rendering(tmp_path):
    item = RenderItem("x", "p", "n", 1, (ImageCondition(str(tmp_path / "missing.png")),))
    with pytest.raises(ImageInputError, match="not found"):
        render(cfg(), [item])


def test_file_that_is_not_an_image_is_refused(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is text, not pixels")
    item = RenderItem("x", "p", "n", 1, (ImageCondition(str(fake)),))
    with pytest.raises(ImageInputError, match="not a readable image"):
        render(cfg(), [item])


def test_default_guidance_comes_from_the_model_version():
    r = factory.resolve(cfg(video_guider=None, audio_guider=None, steps=None), factory.CheckpointInfo.read(CKPT))
    assert r.guidance.video.stg_blocks == (29,)  # LTX-2 (model_version 2.0.0) perturbs block 29
    assert len(r.stage1_sigmas) == 41  # 40 steps for LTX-2


def test_files_of_another_generation_are_refused_naming_both():
    # An LTX-2.3 single file where the config asks for LTX-2.5 (and the reverse direction) stops here.
    files = replace(FILES, checkpoint=str(PARITY / "22b" / "tiny_22b.safetensors"))
    with pytest.raises(ConfigError, match=r"model\.version.*2\.5.*\(2\.3, model_version 2\.3\.0\)"):
        make_pipeline(cfg(files=files, generation="2.5"))
    with pytest.raises(ConfigError, match=r"model\.version.*2\.3.*\(2\.0"):
        make_pipeline(cfg(generation="2.3"))


def test_diffusion_decoder_needs_a_generation_that_has_one():
    with pytest.raises(ConfigError, match="model.video_decoder.*conv for LTX-2 19B"):
        make_pipeline(cfg(video_decoder="diffusion"))


def test_image_crf_and_distilled_sampler_come_from_the_generation():
    r19 = factory.resolve(cfg(kind="distilled", video_guider=None, audio_guider=None), factory.CheckpointInfo.read(CKPT))
    assert (r19.image_crf, r19.stage1_sampler) == (33, "euler")
    split = ModelFiles(str(PARITY / "25" / "tiny_ltx-2.5-distilled-transformer.safetensors"), "",
                       video_vae=str(PARITY / "25" / "tiny_ltx-2.5-video-vae-conv.safetensors"),
                       audio_vae=str(PARITY / "25" / "tiny_ltx-2.5-audio-vae.safetensors"))
    r25 = factory.resolve(cfg(kind="distilled", video_guider=None, audio_guider=None, files=split),
                          factory.CheckpointInfo.read(split))
    assert (r25.image_crf, r25.stage1_sampler, r25.ancestral_seed_offset) == (18, "euler_ancestral", 10000)
    assert factory.resolve(cfg(image_crf=0), factory.CheckpointInfo.read(CKPT)).image_crf == 0


def test_text_encoder_of_the_wrong_generation_is_refused_before_loading():
    # LTX-2 expects a Gemma 3 folder: the LTX-2.5 Gemma 4 packed file is named as what it is.
    files = replace(FILES, text_encoder=str(PARITY / "25" / "tiny_gemma4-with-proj-ltx-2.5.safetensors"))
    with pytest.raises(LtxmlxError, match="gemma4"):
        make_pipeline(cfg(files=files))
    with pytest.raises(ConfigError, match="text_encoder_kind.*gemma3 for LTX-2 19B"):
        make_pipeline(cfg(text_encoder_kind="gemma4"))
