"""Config composition, job files and the checks that run before any model loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ltxmlx.config.compose import compose_config
from ltxmlx.config.jobs import UnknownOptionError, available_jobs, group_options
from ltxmlx.config.preflight import BadOverrideError, preflight
from ltxmlx.config.validate import to_run_config, validate
from ltxmlx.errors import ConfigError
from ltxmlx.runner.outputs import OutputDirError
from ltxmlx.weights import MissingWeightsError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path, monkeypatch):
    # Preflight creates the parent of the run directory (outputs/<job>); keep that out of the checkout.
    monkeypatch.chdir(tmp_path)


def typed(*overrides):
    cfg = to_run_config(compose_config(list(overrides)))
    validate(cfg)
    return cfg


def test_shipped_jobs_compose_and_validate():
    assert {"smoke", "sweep", "overnight"} <= set(available_jobs())
    smoke = typed("+job=smoke")
    assert smoke.model.tiny and smoke.runner.batch_size == 2 and len(smoke.prompts) == 2
    assert smoke.seeds.values == [10, 11] and smoke.paths.hf_offline
    overnight = typed("+job=overnight")
    assert overnight.model.name == "ltx23_dev" and overnight.scheduler.steps == 30  # the 2.3 default
    assert overnight.guider.video.stg_blocks == [28] and overnight.seeds.count == 8
    assert typed("+job=sweep").prompt_file == "prompts/sweep.txt"


@pytest.mark.parametrize("model", group_options("model"))
def test_every_model_option_composes(model):
    distilled = "distilled" in model or model in ("tiny", "tiny25")
    pipeline = "distilled" if distilled else "two_stage"
    scheduler = "distilled" if distilled else "ltx2"
    cfg = typed(f"model={model}", f"pipeline={pipeline}", f"scheduler={scheduler}", "prompts=[a fox]")
    assert cfg.model.name == model


def test_one_stage_allows_multiples_of_32_only_there():
    one = ("pipeline=one_stage", "model=ltx2_dev", "scheduler=ltx2", "resolution.height=544")
    assert typed(*one).resolution.height == 544
    with pytest.raises(ConfigError, match="multiple of 64"):
        typed("resolution.height=544")  # the default distilled two-stage pipeline needs /64


def test_weight_refs_and_model_pipeline_mismatch_are_refused():
    with pytest.raises(ConfigError, match="model.variant"):
        typed("model=ltx2_distilled", "pipeline=two_stage")
    with pytest.raises(ConfigError, match="scheduler.steps"):
        typed("scheduler.steps=5")  # the distilled sigma list has 8 steps


@pytest.mark.parametrize("argv, error, text", [
    (["+job=nope"], UnknownOptionError, "available: a2v, hq, ic_lora, keyframes, overnight, retake, smoke, smoke25, sweep"),
    (["+job=smoke", "model=foo"], UnknownOptionError, "unknown model option 'foo'; available: ltx23_dev"),
    (["+job=smoke", "resolution.height=96"], ConfigError, "multiple of 64"),
    (["+job=smoke", "resolution.frames=20"], ConfigError, "8k+1"),
    (["+job=smoke", "resolution.width=4096"], ConfigError, "[64, 2048]"),
    (["+job=smoke", "prompts=[]"], ConfigError, "at least one prompt"),
    (["+job=smoke", "seeds.values=[-3]"], ConfigError, "seeds in [0, 2**63)"),
    (["+job=smoke", "seeds.start=0", "seeds.count=2"], ConfigError, "not both"),
    (["+job=smoke", "model.checkpoint=/no/such/file.safetensors"], MissingWeightsError, "/no/such/file.safetensors"),
    (["+job=smoke", "output_root=/proc/ltxmlx"], OutputDirError, "cannot be written"),
    (["+job=smoke", "prompts=['!!! ???']"], ConfigError, "at least one ASCII letter"),
    (["+job=smoke", "prompts=['a\tb']"], ConfigError, "control characters"),
    (["+job=smoke", "resolution=smoke,smoke_wide"], BadOverrideError, "add -m"),
    (["+job=smoke", "nosuchkey=1"], BadOverrideError, "nosuchkey"),
    (["+job=smoke", "runner.batch_size=many"], ConfigError, "runner.batch_size"),
    # Bounds the pipeline enforces are checked in pre-flight, under the key the user typed.
    (["+job=smoke", "pipeline=two_stage", "model=tiny_dev", "guider=multimodal", "scheduler=ltx2",
      "guider.video.rescale=1.5"], ConfigError, "'guider.video.rescale' = 1.5"),
    (["+job=smoke", "guider.audio.stg=25"], ConfigError, "'guider.audio.stg' = 25"),
    # Typos get a suggestion, not Hydra's "+key" hint (which would then fail).
    (["+job=smoke", "runner.crff=3"], BadOverrideError, "unknown config key 'runner.crff' (did you mean 'runner.crf'?)"),
    (["+job=smoke", "resolution=smok"], UnknownOptionError, "unknown resolution option 'smok' (did you mean 'smoke'?)"),
    (["+job=smok"], UnknownOptionError, "unknown job 'smok' (did you mean 'smoke'?)"),
])
def test_bad_input_is_one_clear_error(argv, error, text):
    with pytest.raises(error) as e:
        preflight(argv)
    assert text in str(e.value) and "\n" not in str(e.value)


def test_offline_hub_weights_missing_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="hf download Lightricks/LTX-2.5 diffusion_models/ltx-2.5-22b-distilled-transformer-bf16.safetensors"):
        preflight(["+job=sweep", "paths.hf_offline=true"])


def test_multirun_expands_heavy_axes_into_jobs():
    pf = preflight(["-m", "+job=smoke", "resolution=smoke,smoke_wide"])
    assert pf.multirun and len(pf.jobs) == 2
    assert [c.resolution.width for c in pf.configs] == [128, 192]


def test_cli_bad_input_exits_2_with_one_line():
    bad = subprocess.run([sys.executable, "-m", "ltxmlx.run", "+job=nope"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith("error: unknown job 'nope'")


def test_pipeline_config_makes_sampling_explicit():
    from ltxmlx.components.schedulers import DISTILLED_SIGMA_VALUES, LTX2Scheduler
    from ltxmlx.config.pipeline_config import to_pipeline_config

    smoke = to_pipeline_config(typed("+job=smoke"))
    assert smoke.kind == "distilled" and smoke.video_guider is None
    assert smoke.stage1_sigmas == tuple(float(v) for v in DISTILLED_SIGMA_VALUES)
    assert (smoke.height, smoke.width, smoke.num_frames, smoke.fps) == (128, 128, 17, 24.0)
    dev = to_pipeline_config(typed("model=ltx2_dev", "pipeline=two_stage", "scheduler=ltx2", "guider=multimodal",
                                   "prompts=[a]"))
    official = LTX2Scheduler().execute(40).tolist()
    assert len(dev.stage1_sigmas) == 41 and max(abs(a - b) for a, b in zip(dev.stage1_sigmas, official)) == 0
    assert dev.video_guider.cfg_scale == 3.0 and dev.video_guider.stg_blocks == (29,)
    assert dev.audio_guider.cfg_scale == 7.0 and dev.files.distilled_lora.strength == 1.0


def test_generation_defaults_flow_into_the_groups():
    dev25 = typed("model=ltx25_dev", "pipeline=two_stage", "scheduler=ltx2", "guider=multimodal")
    assert dev25.scheduler.steps == 30 and dev25.guider.video.stg_blocks == [28]
    dev19 = typed("model=ltx2_dev", "pipeline=two_stage", "scheduler=ltx2", "guider=multimodal")
    assert dev19.scheduler.steps == 40 and dev19.guider.audio.stg_blocks == [29]
    tiny = typed("model=tiny_dev", "pipeline=two_stage", "scheduler=ltx2", "guider=multimodal")
    assert tiny.scheduler.steps == 4 and tiny.guider.video.stg_blocks == [1]  # a block the 2-block model has


def test_ltx25_needs_its_split_files_and_offers_the_diffusion_decoder():
    assert typed("model=ltx25_distilled", "model.video_decoder=diffusion").model.video_decoder == "diffusion"
    with pytest.raises(ConfigError, match="model.video_vae"):
        typed("model=ltx25_distilled", "model.video_vae=null")
    with pytest.raises(ConfigError, match=r"model\.video_decoder.*expected one of conv\)"):
        typed("model=ltx23_distilled", "model.video_decoder=diffusion")


def test_auto_frames_need_a_duration_head():
    assert typed("model=ltx25_distilled", "resolution.frames=auto").resolution.frames == "auto"
    with pytest.raises(ConfigError, match="no duration head"):
        typed("model=ltx23_distilled", "resolution.frames=auto")
    with pytest.raises(ConfigError, match="duration head"):
        typed("model=ltx25_distilled", "resolution.frames=auto", "model.duration_head=null")
    with pytest.raises(ConfigError, match="resolution.frames"):
        typed("resolution.frames=many")
