"""`+job=smoke model.quantization=int8|int4` end to end: the run quantizes the transformer, Gemma and the
embeddings processor, writes the quantized-weights cache and names it in the record; a second run
renders from the cache alone (the source's transformer and connector weights are overwritten in between
and nothing changes)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from ltxmlx.media.probe import decode_video

from tests.e2e.test_smoke import cli

OVERWRITTEN = ("model.diffusion_model.transformer_blocks.", "model.diffusion_model.video_embeddings_connector.",
               "model.diffusion_model.audio_embeddings_connector.")
ONE_ITEM = ["prompts=[A red fox trots through fresh snow at dawn]", "seeds.values=[10]", "runner.batch_size=1"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path_factory.mktemp("weights")), HF_HUB_OFFLINE="1")
    e.pop("LTXMLX_JOBS_DIR", None)
    return e


def render(env, run: Path, mode: str) -> tuple[dict, str, np.ndarray]:
    proc = cli(["ltxmlx.run", "+job=smoke", f"model.quantization={mode}", *ONE_ITEM, f"hydra.run.dir={run}"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (video,) = sorted((run / "videos").glob("*.mp4"))
    return json.loads((run / "record.json").read_text()), (run / "run.log").read_text(), decode_video(video)


def overwrite_transformer_weights(path: Path) -> int:
    """Fill every transformer-block and text-connector tensor of the single file with 10.0, keeping its
    size and mtime."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    dtypes = {"F32": np.float32, "F16": np.float16}
    changed = 0
    for name, info in header.items():
        if name.startswith(OVERWRITTEN) and info["dtype"] in dtypes:
            start, end = (8 + n + o for o in info["data_offsets"])
            data[start:end] = np.full((end - start) // np.dtype(dtypes[info["dtype"]]).itemsize, 10.0,
                                      dtypes[info["dtype"]]).tobytes()
            changed += 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return changed


def test_int8_renders_then_reuses_its_cache_without_the_source(env, tmp_path):
    record, log, first = render(env, tmp_path / "first", "int8")
    files = record["weights"]["quantized"]["files"]
    assert record["weights"]["quantized"]["mode"] == "int8"
    assert set(files) == {"text.gemma3", "text.embeddings_processor", "stage1", "stage2"}
    assert all(Path(f).is_file() for f in files.values())
    assert "Linear layers quantized to int8" in log

    source = Path(record["weights"]["checkpoint"]["path"])
    assert overwrite_transformer_weights(source) > 0
    record2, log2, second = render(env, tmp_path / "second", "int8")
    assert record2["weights"]["quantized"] == record["weights"]["quantized"]
    for component in ("transformer", "gemma3", "embeddings_processor"):
        assert f"built {component} from the quantized cache" in log2
    assert "Linear layers quantized" not in log2  # nothing was quantized from a source file
    assert np.array_equal(first, second)  # the overwritten source weights were never read


def test_int4_renders(env, tmp_path):
    record, log, video = render(env, tmp_path / "int4", "int4")
    assert "Linear layers quantized to int4" in log and video.shape[0] == 17 and video.std() > 0
    assert all("-int4-" in Path(f).name for f in record["weights"]["quantized"]["files"].values())


def test_unknown_mode_exits_2_listing_the_valid_modes(env):
    proc = cli(["ltxmlx.run", "+job=smoke", "model.quantization=int3", "runner.dry_run=true"], env)
    assert proc.returncode == 2
    assert "one of none, fp8, int8, int4, mxfp8, mxfp4, nvfp4" in proc.stderr + proc.stdout
