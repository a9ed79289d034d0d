"""Checkpoint files for the official-pipeline benchmark (`official_distilled.py`), without the weights.

Each model is a set of safetensors files carrying the official metadata (configs, model version) and no
weight data, plus the list of tensors (name, shape, dtype) each file stands for: for full-size runs from the
key manifests in tests/fixtures, for --small runs from the headers of the tiny test checkpoints in
tests/fixtures/parity. The benchmark's registry generates those tensors instead of reading them.
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SEED = 0


def header_only(path: Path, metadata: dict) -> str:
    """A safetensors file without tensors: the metadata only (string values, JSON-encoded otherwise)."""
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    header = json.dumps({"__metadata__": meta}).encode()
    header += b" " * (-len(header) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return str(path.resolve())


def small_tensors_file(path: Path, metadata: dict, tensors: list) -> str:
    """A safetensors file holding only `tensors` (seeded N(0, 0.02), bf16) and the metadata."""
    import torch
    from safetensors.torch import save_file

    out = {}
    for name, shape, _ in tensors:
        gen = torch.Generator().manual_seed(SEED * 1_000_003 + zlib.crc32(name.encode()))
        out[name] = torch.randn(shape, generator=gen).mul_(0.02).to(torch.bfloat16)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path), metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    return str(path.resolve())


def read_header(path: Path) -> tuple[dict, list[tuple[str, list[int], str]]]:
    """(metadata with JSON values decoded, [(name, shape, dtype)]) of a real safetensors file."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    raw = header.pop("__metadata__", {}) or {}
    meta = {}
    for k, v in raw.items():
        try:
            meta[k] = json.loads(v)
        except json.JSONDecodeError:
            meta[k] = v
    return meta, [(k, v["shape"], v["dtype"]) for k, v in header.items()]


def manifest_tensors(manifest: dict) -> list[tuple[str, list[int], str]]:
    """The manifest's weight tensors (entries with symbolic shapes describe file assets, not weights)."""
    return [(t["name"], t["shape"], t["expected_ckpt_dtype"]) for t in manifest["tensors"]
            if all(isinstance(d, int) for d in t["shape"])]


def write_tokenizer_folder(folder: Path, processor: dict) -> None:
    """Tokenizer and processor files for a Gemma folder: one token per printable ASCII character plus
    Gemma's special tokens (102 ids: they fit any Gemma vocabulary, the tiny test one included). The text
    encoder pads every prompt to its fixed length (1024 tokens), so the tokenizer does not change the work."""
    from tokenizers import Tokenizer, models, processors

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for code in range(32, 127):
        vocab[chr(code)] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    tok.add_special_tokens(specials)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(tok.to_str())
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "extra_special_tokens": {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                                 "image_token": "<image_soft_token>"},
    }))
    (folder / "processor_config.json").write_text(json.dumps(processor))


# The text encoder's loader always builds an HF processor from processor_config.json, but only prompt
# enhancement with an image uses it (not done here). Gemma's own processors need image (and for Gemma 4
# video/audio) processors with optional dependencies (PIL, torchvision), so the folders name a
# tokenizer-only processor class instead: built once with the shell, it changes no timing.
TEXT_ONLY_PROCESSOR = {"processor_class": "BarkProcessor"}


class Files:
    """Checkpoint files of one model (header-only, or for the Gemma 4 file header plus tokenizer assets) and
    the tensor list each stands for (keyed by resolved path)."""

    def __init__(self, root: Path):
        self.root = root
        self.tensors: dict[str, list[tuple[str, list[int], str]]] = {}
        self.paths: dict[str, str] = {}

    def add(self, role: str, rel: str, metadata: dict, tensors: list, in_file: str | None = None) -> str:
        """A header-only file; tensors whose names match the `in_file` pattern are written into it (small
        tensors the official loader reads straight from the file rather than through the registry)."""
        if in_file is None:
            path = header_only(self.root / rel, metadata)
        else:
            path = small_tensors_file(self.root / rel, metadata, [t for t in tensors if re.search(in_file, t[0])])
        self.tensors[path] = tensors
        self.paths[role] = path
        return path

    def add_gemma3(self, config: dict, tensors: list) -> None:
        """A Gemma 3 folder (config.json, tokenizer files, header-only model.safetensors)."""
        folder = self.root / "gemma"
        write_tokenizer_folder(folder, TEXT_ONLY_PROCESSOR)
        (folder / "config.json").write_text(json.dumps(config))
        self.add("gemma_weights", "gemma/model.safetensors", {"format": "pt"}, tensors)
        self.paths["text_encoder"] = str(folder.resolve())

    def add_gemma4(self, gemma_config: dict, tensors: list) -> None:
        """A single-file Gemma 4 text encoder as ltx-core's packer writes it, minus the weights: the HF config
        in the metadata, the tokenizer as a uint8 tensor, the sidecars as metadata strings, and one tiny tensor
        under the first layer's name, from which the loader tells the key layout (Comfy-flat) of the file."""
        import torch
        from safetensors.torch import save_file

        folder = self.root / "gemma4_assets"
        write_tokenizer_folder(folder, TEXT_ONLY_PROCESSOR)
        path = self.root / "text_encoder.safetensors"
        save_file({"tokenizer_json": torch.frombuffer(bytearray((folder / "tokenizer.json").read_bytes()),
                                                      dtype=torch.uint8),
                   "model.layers.0.post_feedforward_layernorm.weight": torch.zeros(1)},
                  str(path), metadata={"format": "pt", "gemma_config": json.dumps(gemma_config),
                                       "tokenizer_config.json": (folder / "tokenizer_config.json").read_text(),
                                       "processor_config.json": (folder / "processor_config.json").read_text()})
        path = str(path.resolve())
        self.tensors[path] = [t for t in tensors if t[0] != "tokenizer_json" and not t[0].startswith("hf_asset__")]
        self.paths["text_encoder"] = path

    def model_paths(self, ModelPaths):
        if "transformer" in self.paths:
            return ModelPaths.from_split(
                transformer_path=self.paths["transformer"], text_encoder_path=self.paths["text_encoder"],
                video_vae_path=self.paths["video_vae"], audio_vae_path=self.paths["audio_vae"])
        return ModelPaths.from_monolith(self.paths["checkpoint"], self.paths["text_encoder"])

    def config(self, role: str) -> dict:
        """The `config` metadata of the file holding `role` (video_vae / audio_vae: the checkpoint if monolith)."""
        return read_header(Path(self.paths.get(role, self.paths.get("checkpoint"))))[0]["config"]


def ltx23_files(root: Path, small: bool) -> Files:
    files = Files(root)
    if small:
        meta, tensors = read_header(FIXTURES / "parity" / "22b" / "tiny_22b.safetensors")
        files.add("checkpoint", "ltx.safetensors", meta, tensors)
        ups_meta, ups_tensors = read_header(FIXTURES / "parity" / "common" / "tiny_spatial_upscaler_x2.safetensors")
        files.add("upsampler", "upsampler.safetensors", ups_meta, ups_tensors)
        gemma_dir = FIXTURES / "parity" / "common" / "tiny_gemma3"
        files.add_gemma3(json.loads((gemma_dir / "config.json").read_text()),
                         read_header(gemma_dir / "model.safetensors")[1])
        return files
    ltx = json.loads((FIXTURES / "manifest_ltx23_22b.json").read_text())
    ups = json.loads((FIXTURES / "manifest_spatial_upscaler_x2.json").read_text())
    gemma = json.loads((FIXTURES / "manifest_gemma3_12b.json").read_text())
    files.add("checkpoint", "ltx.safetensors", ltx["metadata"], manifest_tensors(ltx))
    files.add("upsampler", "upsampler.safetensors", ups["metadata"], manifest_tensors(ups))
    files.add_gemma3(gemma["config"], manifest_tensors(gemma))
    return files


# LTX-2.5 split pack: role -> (tiny test file under parity/25, full-size manifest). The video VAE is the
# diffusion decoder (the pack's default) unless --vae25 conv.
LTX25_FILES = {
    "transformer": ("tiny_ltx-2.5-distilled-transformer", "manifest_ltx25_transformer"),
    "audio_vae": ("tiny_ltx-2.5-audio-vae", "manifest_ltx25_audio_vae"),
    "upsampler": ("tiny_ltx-2.5-latent-spatial-upscaler-x2", "manifest_ltx25_spatial_upscaler_x2"),
    "video_vae/diffusion": ("tiny_ltx-2.5-video-vae", "manifest_ltx25_video_vae_diffusion"),
    "video_vae/conv": ("tiny_ltx-2.5-video-vae-conv", "manifest_ltx25_video_vae_conv"),
    "text_encoder": ("tiny_gemma4-with-proj-ltx-2.5", "manifest_ltx25_gemma4_12b_with_proj"),
}


def name_of(role: str) -> str:
    return role.split("/")[0]


def ltx25_files(root: Path, small: bool, vae: str = "diffusion") -> Files:
    """The split pack without a duration head: the benchmark passes the frame count (the official pipeline
    then never runs the head)."""
    files = Files(root)
    for role in ("transformer", "audio_vae", "upsampler", f"video_vae/{vae}", "text_encoder"):
        tiny, manifest = LTX25_FILES[role]
        name = name_of(role)
        if small:
            meta, tensors = read_header(FIXTURES / "parity" / "25" / f"{tiny}.safetensors")
        else:
            full = json.loads((FIXTURES / f"{manifest}.json").read_text())
            meta, tensors = full["metadata"], manifest_tensors(full)
            if name == "text_encoder":
                # The manifest cannot confirm how the shipped file spells the vision embedder's tensors; use
                # the Comfy-flat spelling the official loader maps onto the model (vision_model.*), so that
                # every parameter of the text encoder is loaded.
                tensors = [(re.sub(r"^multi_modal_projector\.", "vision_model.", n), shape, dtype)
                           for n, shape, dtype in tensors]
        if name == "text_encoder":
            files.add_gemma4(meta["gemma_config"], tensors)
        else:
            # The diffusion VAE decoder's loader reads its static gates from the file to fold them.
            in_file = r"\.gate_(msa|mlp|ctx)$" if role == "video_vae/diffusion" else None
            files.add(name, f"{name}.safetensors", meta, tensors, in_file)
    return files


MODELS = {"ltx23": ltx23_files, "ltx25": ltx25_files}


def use_small_latent_channels(files: Files) -> dict:
    """--small only: the official pipelines build their noise latents with the real models' channel counts
    (video 128, audio 8 x 16 mel bins: the defaults of `VideoLatentShape.from_pixel_shape` and
    `AudioLatentShape.from_video_pixel_shape`); the tiny test VAEs have fewer. Point those defaults at the
    tiny checkpoint's config so the plumbing can run. Full-size runs change nothing."""
    from ltx_core.types import AudioLatentShape, VideoLatentShape

    video_channels = files.config("video_vae")["vae"]["latent_channels"]
    ddconfig = files.config("audio_vae")["audio_vae"]["model"]["params"]["ddconfig"]
    audio_channels = ddconfig["z_channels"]
    video_defaults = list(VideoLatentShape.from_pixel_shape.__defaults__)
    audio_defaults = list(AudioLatentShape.from_video_pixel_shape.__defaults__)
    video_defaults[0], audio_defaults[0] = video_channels, audio_channels
    VideoLatentShape.from_pixel_shape.__defaults__ = tuple(video_defaults)
    AudioLatentShape.from_video_pixel_shape.__defaults__ = tuple(audio_defaults)
    return {"video_latent_channels": video_channels, "audio_latent_channels": audio_channels}
