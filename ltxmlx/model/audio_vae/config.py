"""Frozen configs of the audio VAE and the vocoders, read from the checkpoint metadata `config`.

`from_config` takes the full metadata config (with sub-dicts `audio_vae` and `vocoder`) and refuses
values whose behaviour the port does not implement.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltxmlx.errors import ConfigError

# The official decoder hard-codes a 4x latent-to-mel frame ratio when it sizes its output.
LATENT_DOWNSAMPLE_FACTOR = 4
# conv_pre of every vocoder takes stereo mel: 2 channels x 64 bins (hard-coded in the official code).
VOCODER_MEL_BINS = 64


def _get(cfg: dict, path: str) -> object:
    """Value at dotted `path`; a missing key is an error (the real checkpoints carry all of them)."""
    node: object = cfg
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(path, None, "a value (key missing from the checkpoint config)")
        node = node[part]
    return node


def _require(key: str, value: object, allowed: tuple, what: str | None = None) -> None:
    if value not in allowed:
        raise ConfigError(key, value, what or " or ".join(repr(a) for a in allowed))


@dataclass(frozen=True)
class AudioVAEConfig:
    """ddconfig + preprocessing of `config["audio_vae"]`; shared by the encoder and the decoder."""

    ch: int
    out_ch: int
    in_channels: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    z_channels: int
    mel_bins: int
    sample_rate: int
    hop_length: int
    n_fft: int
    is_causal: bool

    @property
    def num_resolutions(self) -> int:
        return len(self.ch_mult)

    @property
    def latent_mel_bins(self) -> int:
        """Mel bins of the latent: each level but the last halves them."""
        return self.mel_bins // 2 ** (self.num_resolutions - 1)

    @classmethod
    def from_config(cls, cfg: dict) -> "AudioVAEConfig":
        p = "audio_vae.model.params.ddconfig."
        dd = _get(cfg, "audio_vae.model.params.ddconfig")
        _require(p + "norm_type", _get(cfg, p + "norm_type"), ("pixel",))
        _require(p + "causality_axis", _get(cfg, p + "causality_axis"), ("height",))
        _require(p + "mid_block_add_attention", _get(cfg, p + "mid_block_add_attention"), (False,))
        if list(_get(cfg, p + "attn_resolutions")):
            raise ConfigError(p + "attn_resolutions", dd["attn_resolutions"], "[] (attention is not ported)")
        # Dropout is inactive at inference; anything else would mean a training config.
        _require(p + "dropout", _get(cfg, p + "dropout"), (0.0, 0))
        # Without double_z the official encoder still halves its output channels; only double_z is sane.
        _require(p + "double_z", _get(cfg, p + "double_z"), (True,))
        # The official configurator reads these two with these defaults; other values are not ported.
        _require(p + "attn_type", dd.get("attn_type", "vanilla"), ("vanilla",))
        _require(p + "resamp_with_conv", dd.get("resamp_with_conv", True), (True,))

        stft = "audio_vae.preprocessing.stft."
        mel = "audio_vae.preprocessing.mel."
        sample_rate = int(_get(cfg, "audio_vae.model.params.sampling_rate"))
        n_fft = int(_get(cfg, stft + "filter_length"))
        # The official mel transform uses win = n_fft, f_min 0 and f_max = sr/2 whatever the config says,
        # so other values here would silently mean something else.
        _require(stft + "win_length", _get(cfg, stft + "win_length"), (n_fft,), f"{n_fft} (= filter_length)")
        _require(mel + "mel_fmin", _get(cfg, mel + "mel_fmin"), (0, 0.0))
        _require(mel + "mel_fmax", _get(cfg, mel + "mel_fmax"), (sample_rate / 2,), f"{sample_rate / 2} (= sr/2)")
        mel_bins = int(_get(cfg, p + "mel_bins"))
        _require(mel + "n_mel_channels", _get(cfg, mel + "n_mel_channels"), (mel_bins,), f"{mel_bins} (= mel_bins)")

        out = cls(
            ch=int(_get(cfg, p + "ch")),
            out_ch=int(_get(cfg, p + "out_ch")),
            in_channels=int(_get(cfg, p + "in_channels")),
            ch_mult=tuple(int(m) for m in _get(cfg, p + "ch_mult")),
            num_res_blocks=int(_get(cfg, p + "num_res_blocks")),
            z_channels=int(_get(cfg, p + "z_channels")),
            mel_bins=mel_bins,
            sample_rate=sample_rate,
            hop_length=int(_get(cfg, stft + "hop_length")),
            n_fft=n_fft,
            is_causal=bool(_get(cfg, stft + "causal")),
        )
        if out.mel_bins % 2 ** (out.num_resolutions - 1):
            raise ConfigError(p + "mel_bins", out.mel_bins, f"a multiple of {2 ** (out.num_resolutions - 1)}")
        # Per-channel statistics have `ch` entries but act on (z * latent mel bins)-wide tokens.
        if out.ch != out.z_channels * out.latent_mel_bins:
            raise ConfigError(p + "ch", out.ch, f"z_channels * latent mel bins = {out.z_channels * out.latent_mel_bins}")
        return out


@dataclass(frozen=True)
class GeneratorConfig:
    """One HiFi-GAN / BigVGAN generator (`config["vocoder"]`, or its `vocoder` / `bwe` sub-dicts)."""

    amp: bool  # True: BigVGAN-v2 AMPBlock1 + SnakeBeta; False: HiFi-GAN ResBlock1 + LeakyReLU
    upsample_initial_channel: int
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    use_tanh_at_final: bool
    use_bias_at_final: bool
    apply_final_activation: bool
    output_sampling_rate: int

    @property
    def hop(self) -> int:
        """Output samples per mel frame."""
        out = 1
        for r in self.upsample_rates:
            out *= r
        return out

    @classmethod
    def from_dict(cls, d: dict, where: str, *, amp: bool, output_sampling_rate: int,
                  apply_final_activation: bool = True) -> "GeneratorConfig":
        _require(where + "resblock", _get(d, "resblock"), ("AMP1",) if amp else ("1",))
        _require(where + "stereo", _get(d, "stereo"), (True,))
        if amp:
            _require(where + "activation", _get(d, "activation"), ("snakebeta",))
        rates = tuple(int(r) for r in _get(d, "upsample_rates"))
        kernels = tuple(int(k) for k in _get(d, "upsample_kernel_sizes"))
        rk = tuple(int(k) for k in _get(d, "resblock_kernel_sizes"))
        rd = tuple(tuple(int(x) for x in ds) for ds in _get(d, "resblock_dilation_sizes"))
        if len(rates) != len(kernels):
            raise ConfigError(where + "upsample_kernel_sizes", kernels, f"{len(rates)} entries (one per rate)")
        if len(rk) != len(rd) or any(len(ds) != 3 for ds in rd):
            raise ConfigError(where + "resblock_dilation_sizes", rd, f"{len(rk)} triples (one per kernel size)")
        if any(k % 2 == 0 for k in rk):
            raise ConfigError(where + "resblock_kernel_sizes", rk, "odd kernel sizes")
        if any((k - s) % 2 for k, s in zip(kernels, rates)):
            raise ConfigError(where + "upsample_kernel_sizes", kernels, "k - stride even for every upsampler")
        ch0 = int(_get(d, "upsample_initial_channel"))
        if ch0 % 2 ** len(rates):
            raise ConfigError(where + "upsample_initial_channel", ch0, f"a multiple of {2 ** len(rates)}")
        return cls(
            amp=amp,
            upsample_initial_channel=ch0,
            upsample_rates=rates,
            upsample_kernel_sizes=kernels,
            resblock_kernel_sizes=rk,
            resblock_dilation_sizes=rd,
            # The 19B flat config omits these two; the official defaults are True.
            use_tanh_at_final=bool(d.get("use_tanh_at_final", True)),
            use_bias_at_final=bool(d.get("use_bias_at_final", True)),
            apply_final_activation=apply_final_activation,
            output_sampling_rate=output_sampling_rate,
        )


@dataclass(frozen=True)
class BWEConfig:
    """Bandwidth extension of the 22B vocoder: causal mel STFT + second generator + sinc resampler."""

    generator: GeneratorConfig
    input_sampling_rate: int
    output_sampling_rate: int
    hop_length: int
    n_fft: int
    num_mels: int

    @property
    def ratio(self) -> int:
        return self.output_sampling_rate // self.input_sampling_rate


@dataclass(frozen=True)
class VocoderConfig:
    """`config["vocoder"]`: a plain HiFi-GAN (19B) or a BigVGAN vocoder with BWE (22B, iff "bwe" present)."""

    generator: GeneratorConfig
    bwe: BWEConfig | None

    @property
    def output_sampling_rate(self) -> int:
        return self.bwe.output_sampling_rate if self.bwe else self.generator.output_sampling_rate

    @classmethod
    def from_config(cls, cfg: dict) -> "VocoderConfig":
        v = _get(cfg, "vocoder")
        if "bwe" not in v:
            gen = GeneratorConfig.from_dict(
                v, "vocoder.", amp=False, output_sampling_rate=int(v.get("output_sampling_rate", 24000)))
            return cls(generator=gen, bwe=None)
        b = v["bwe"]
        w = "vocoder.bwe."
        in_sr, out_sr = int(_get(b, "input_sampling_rate")), int(_get(b, "output_sampling_rate"))
        if out_sr % in_sr:
            raise ConfigError(w + "output_sampling_rate", out_sr, f"an integer multiple of {in_sr}")
        n_fft = int(_get(b, "n_fft"))
        # The official MelSTFT uses win = n_fft; a different win_size would be ignored there.
        _require(w + "win_size", b.get("win_size", n_fft), (n_fft,), f"{n_fft} (= n_fft)")
        _require(w + "num_mels", _get(b, "num_mels"), (VOCODER_MEL_BINS,))
        # The official configurator forces the BWE generator's final activation off.
        _require(w + "apply_final_activation", b.get("apply_final_activation", False), (False,))
        gen = GeneratorConfig.from_dict(_get(v, "vocoder"), "vocoder.vocoder.", amp=True, output_sampling_rate=in_sr)
        bwe_gen = GeneratorConfig.from_dict(b, w, amp=True, output_sampling_rate=out_sr, apply_final_activation=False)
        bwe = BWEConfig(generator=bwe_gen, input_sampling_rate=in_sr, output_sampling_rate=out_sr,
                        hop_length=int(_get(b, "hop_length")), n_fft=n_fft, num_mels=VOCODER_MEL_BINS)
        if bwe_gen.hop * in_sr != bwe.hop_length * out_sr:
            raise ConfigError(w + "upsample_rates", bwe_gen.upsample_rates,
                              f"a product of {bwe.hop_length * bwe.ratio} (hop_length x output/input rate)")
        return cls(generator=gen, bwe=bwe)
