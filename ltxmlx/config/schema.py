"""Typed run configuration: the dataclasses Hydra composes into and the ConfigStore entries.

Every YAML group under `conf/` fills one of these nodes; `RunConfig` is the whole job. Checks that
need more than types (divisibility, bounds, files) live in `ltxmlx.config.validate`.
Weight references are strings: a local path, `hf://owner/repo/path/in/repo.safetensors[@rev]`, a whole
repository `hf://owner/repo[@rev]`, or `tiny://<component>` for the built-in random-weight model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class ModelCfg:
    """One checkpoint family/variant and the files it needs.

    `version` names the generation (`ltxmlx.generations`: "2.0" LTX-2 19B, "2.3" LTX-2.3 22B, "2.5"
    LTX-2.5 22B); its defaults (steps, STG blocks, image CRF, text encoder, samplers) come from there.
    LTX-2 / 2.3 keep everything but Gemma and the upsamplers in `checkpoint`; LTX-2.5 ships one file
    per component: `checkpoint` is then its transformer file and `video_vae` / `audio_vae` are set.
    """

    name: str = MISSING  # e.g. "ltx2_dev"; recorded in outputs
    version: str = MISSING  # "2.0", "2.3" or "2.5"
    variant: str = MISSING  # "dev" or "distilled"
    checkpoint: str = MISSING  # the single file (2.0 / 2.3) or the transformer file (2.5)
    video_vae: Optional[str] = None  # 2.5: the video VAE file (conv, or the diffusion-decoder one)
    audio_vae: Optional[str] = None  # 2.5: the audio VAE + vocoder file
    duration_head: Optional[str] = None  # 2.5: clip-length predictor, used by `resolution.frames: auto`
    spatial_upsampler: Optional[str] = None  # needed by two-stage pipelines
    distilled_lora: Optional[str] = None  # stage-2 LoRA of the dev two-stage pipeline
    text_encoder: str = MISSING  # Gemma 3 folder / repository (2.0, 2.3) or Gemma 4 packed file (2.5)
    video_decoder: str = "conv"  # "conv" or, where the generation has one, "diffusion"
    # "none": weights in `dtype`. "fp8": an official FP8 E4M3 file, dequantized to `dtype` at load (no
    # MLX quantization). "int8" / "int4" (MLX affine, group 64) and "mxfp8" / "mxfp4" / "nvfp4" (MLX
    # microscaling floats): the large Linear layers of the transformer and of Gemma are quantized while
    # loading, from a bf16 or FP8 file, and cached under `<paths.cache>/quantized` for later runs
    # (see ltxmlx/loader/quantize.py for what stays in `dtype`).
    quantization: str = "none"
    dtype: str = "bfloat16"
    tiny: bool = False  # the random-weight test model (written on first use into paths.cache)


# The ModelCfg fields that name weight files (resolved to local paths before a run).
WEIGHT_FIELDS = ("checkpoint", "text_encoder", "video_vae", "audio_vae", "duration_head", "spatial_upsampler",
                 "distilled_lora")


@dataclass
class ResolutionCfg:
    """Output size; two-stage pipelines run stage 1 at half of it."""

    height: int = MISSING
    width: int = MISSING
    frames: Any = MISSING  # 8k+1, or "auto": the LTX-2.5 duration head picks each prompt's length
    fps: float = 24.0


@dataclass
class PipelineCfg:
    name: str = MISSING  # "one_stage", "two_stage" or "distilled"
    stage2_sigmas: List[float] = field(default_factory=list)  # two-stage only; empty for one_stage
    distilled_lora_strength: float = 1.0  # two_stage: strength of model.distilled_lora in stage 2
    reference_attention: float = 1.0  # ic_lora: attention weight between references and the video
    distilled_lora_stage_strengths: List[float] = field(default_factory=lambda: [0.25, 0.5])  # two_stage_hq


@dataclass
class SchedulerCfg:
    name: str = MISSING  # "ltx2" (shifted, stretched) or "distilled" (fixed sigma list)
    steps: int = MISSING
    max_shift: float = 2.05
    base_shift: float = 0.95
    stretch: bool = True
    terminal: float = 0.1
    sigmas: List[float] = field(default_factory=list)  # the fixed list of the "distilled" scheduler
    sampler: str = "euler"  # the only one the pipelines implement so far


@dataclass
class ModalityGuidanceCfg:
    cfg: float = 1.0
    stg: float = 0.0
    rescale: float = 0.0
    modality: float = 1.0
    stg_blocks: List[int] = field(default_factory=list)
    skip_step: int = 0


@dataclass
class GuiderCfg:
    name: str = MISSING
    video: ModalityGuidanceCfg = field(default_factory=ModalityGuidanceCfg)
    audio: ModalityGuidanceCfg = field(default_factory=ModalityGuidanceCfg)


@dataclass
class LoraCfg:
    weights: str = MISSING
    strength: float = 1.0


@dataclass
class LoraStackCfg:
    name: str = MISSING
    stack: List[LoraCfg] = field(default_factory=list)


@dataclass
class SeedsCfg:
    """Either an explicit list (`values`) or a range (`start`, `count`), not both."""

    values: List[int] = field(default_factory=list)
    start: Optional[int] = None
    count: Optional[int] = None


@dataclass
class ImageCondCfg:
    path: str = MISSING
    frame: int = 0
    strength: float = 1.0


@dataclass
class ReferenceCfg:
    """An IC-LoRA control video (ic_lora pipeline); mask: optional grey video weighting its attention."""

    path: str = MISSING
    strength: float = 1.0
    mask: Optional[str] = None


@dataclass
class AudioCondCfg:
    """An input audio track (a2v pipeline): any file ffmpeg reads, from start_time, at most max_duration s."""

    path: str = MISSING
    start_time: float = 0.0
    max_duration: Optional[float] = None


@dataclass
class SourceCfg:
    """A video to retake (retake pipeline): its [start_time, end_time) window is regenerated."""

    path: str = MISSING
    start_time: float = MISSING
    end_time: float = MISSING


@dataclass
class ConditioningCfg:
    """One named set of conditions; items are prompts x seeds x conditioning sets."""

    name: str = MISSING
    images: List[ImageCondCfg] = field(default_factory=list)
    references: List[ReferenceCfg] = field(default_factory=list)
    audio: Optional[AudioCondCfg] = None
    source: Optional[SourceCfg] = None


@dataclass
class RunnerCfg:
    batch_size: Any = 1  # an int >= 1 or "auto" (from memory_budget_gb)
    memory_budget_gb: Optional[float] = None  # None: 75 % of this machine's memory
    order: str = "stage_major"  # or "item_major" (first videos early, all models resident)
    dry_run: bool = False
    cache_dir: Optional[str] = None  # None: <run dir>/cache; point several runs at one to share stages
    contact_sheet: bool = True
    crf: int = 19
    still_frame_mp4: bool = False  # audio-only pipelines: also an mp4 of a waveform picture with the audio


@dataclass
class PathsCfg:
    cache: str = MISSING  # downloaded / generated weights (the tiny model lives here)
    hf_offline: bool = False  # never contact the Hugging Face Hub; use its local cache only


@dataclass
class FleetCfg:
    """Where the items of one job render: this process, or a fleet (see ltxmlx/fleet/)."""

    name: str = "none"  # "none" or "ray" (resident Ray actors, one per machine with the `mlx` resource)
    address: Optional[str] = None  # ray: "local" starts a local Ray instance; "auto" / "ray://host:10001" joins one
    workers: Optional[int] = None  # ray: actors to start; None: one per `mlx` resource of the cluster


@dataclass
class RunConfig:
    """The whole job after composition."""

    job_name: str = "adhoc"
    output_root: str = "outputs"
    prompts: List[str] = field(default_factory=list)
    prompt_file: Optional[str] = None  # one prompt per non-empty line; '#' starts a comment line
    negative_prompt: str = ""
    seeds: SeedsCfg = field(default_factory=SeedsCfg)
    conditioning: List[ConditioningCfg] = field(default_factory=list)
    model: ModelCfg = field(default_factory=ModelCfg)
    resolution: ResolutionCfg = field(default_factory=ResolutionCfg)
    pipeline: PipelineCfg = field(default_factory=PipelineCfg)
    scheduler: SchedulerCfg = field(default_factory=SchedulerCfg)
    guider: GuiderCfg = field(default_factory=GuiderCfg)
    lora: LoraStackCfg = field(default_factory=LoraStackCfg)
    runner: RunnerCfg = field(default_factory=RunnerCfg)
    paths: PathsCfg = field(default_factory=PathsCfg)
    fleet: FleetCfg = field(default_factory=FleetCfg)


def register_schemas() -> None:
    """Store the schema; `conf/config.yaml` lists it first in its defaults, so every group option
    and override is type-checked against `RunConfig` while composing."""
    ConfigStore.instance().store(name="run_schema", node=RunConfig)
