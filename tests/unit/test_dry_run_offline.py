"""A dry run plans a real job on a machine without its weights; messages say offline only when offline;
a warning repeated by a library is shown once."""

from __future__ import annotations

import logging

import pytest

from ltxmlx.config.compose import compose_config
from ltxmlx.config.preflight import preflight
from ltxmlx.config.validate import to_run_config
from ltxmlx.runner.job import render
from ltxmlx.weights import MissingWeightsError, resolve


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path


def test_dry_run_of_a_real_job_needs_no_weights(empty_hub):
    argv = ["+job=sweep", "runner.dry_run=true", f"output_root={empty_hub / 'out'}"]
    preflight(argv)  # no MissingWeightsError for a dry run
    cfg = to_run_config(compose_config(argv))
    out = render(cfg, empty_hub / "run", overrides=argv, choices={})
    assert out.weights_missing and out.result is None
    assert len(out.plan.items) > 0 and out.estimate.weights_bytes > 10e9  # from the model version
    assert (empty_hub / "run" / "plan.json").is_file()


def test_real_run_still_needs_weights_offline(empty_hub):
    with pytest.raises(MissingWeightsError, match=r"offline mode"):
        preflight(["+job=sweep", "paths.hf_offline=true", f"output_root={empty_hub / 'out'}"])


def test_missing_hub_file_says_offline_only_when_offline(empty_hub):
    ref = "hf://Lightricks/LTX-2/ltx-2-19b-distilled.safetensors"
    with pytest.raises(MissingWeightsError) as e:
        resolve(ref, empty_hub, offline=False, download=False)
    assert "offline" not in str(e.value) and "does not download" in str(e.value)
    with pytest.raises(MissingWeightsError, match="offline mode"):
        resolve(ref, empty_hub, offline=True)


def test_console_shows_each_warning_once_and_hub_warnings_are_not_doubled(tmp_path):
    import subprocess
    import sys

    code = (
        "import logging, logging.config, yaml\n"
        "cfg = yaml.safe_load(open('conf/hydra/job_logging/ltxmlx.yaml'))\n"
        "cfg['handlers']['file']['filename'] = sys.argv[1]\n"
        "logging.config.dictConfig(cfg)\n"
        "import huggingface_hub.utils.logging as hl\n"
        "from ltxmlx.logs import route_library_logs\n"
        "hub = hl.get_logger('huggingface_hub.test')\n"
        "route_library_logs()\n"
        "hub.warning('token not set')\n"
        "for _ in range(3): logging.getLogger('ltxmlx.x').warning('tile size clamped')\n"
    ).replace("import logging,", "import sys, logging,")
    log = tmp_path / "run.log"
    proc = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True,
                          cwd=__import__("pathlib").Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("token not set") == 1 and proc.stderr.count("tile size clamped") == 1
    assert log.read_text().count("tile size clamped") == 3  # run.log keeps every occurrence
