"""The training configuration: one validated `TrainConfig` per run, read from a YAML preset plus overrides."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# Toybox and the pipeline share these: the mel hop of the audio front end and the causal VAE's frame stride.
MEL_HOP = 256
VIDEO_FRAME_STRIDE = 4


class _Section(BaseModel):
    """Every section refuses unknown keys, so a typo in a preset is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    """Where clips come from and their geometry. Clip i is the same clip on every run and every rank.

    `render` draws clip i with the Toybox renderer on the fly (about 50 ms for a 4 s 128×128 clip, so the
    dataset costs no disk); `shards` reads a folder written by `duetto world dataset` (whose clips must be at
    least `frames` long: write it with `--seconds` = frames / fps).
    """

    source: Literal["render", "shards"] = "render"
    path: str | None = None
    num_clips: int = Field(20_000, ge=1)
    # Clip i of this config is dataset clip first_clip + i: a run that moves it on trains on new scenes.
    first_clip: int = Field(0, ge=0)
    seed: int = 0
    width: int = Field(128, ge=8)
    height: int = Field(128, ge=8)
    fps: float = Field(24.0, gt=0)
    frames: int = Field(97, ge=1)
    sample_rate: int = 16_000
    max_objects: int = Field(3, ge=0, le=3)
    allow_toys: bool = True
    workers: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if (self.frames - 1) % VIDEO_FRAME_STRIDE:
            raise ValueError(
                f"data.frames must be 1 + a multiple of {VIDEO_FRAME_STRIDE} (the causal VAE), got {self.frames}"
            )
        if self.source == "shards" and not self.path:
            raise ValueError("data.path must name a Toybox dataset folder when data.source is 'shards'")
        return self

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    @property
    def latent_frames(self) -> int:
        return (self.frames - 1) // VIDEO_FRAME_STRIDE + 1

    def audio_latents(self, frames: int | None = None, stride: int = 2) -> int:
        """Audio latents for `frames` video frames, as the pipeline counts them (floor)."""
        frames = self.frames if frames is None else frames
        return int(frames / self.fps * self.sample_rate / (MEL_HOP * stride))


class OptimConfig(_Section):
    """What every stage's loop shares: length, batch, learning-rate schedule, logging and checkpoints."""

    steps: int = Field(1000, ge=1)
    batch_size: int = Field(4, ge=1)  # per process; the global batch is batch_size × world size
    lr: float = Field(2e-4, gt=0)
    warmup_steps: int = Field(0, ge=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine decay from lr to lr × min_lr_ratio
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = Field(1.0, gt=0)
    log_every: int = Field(50, ge=1)
    ckpt_every: int = Field(1000, ge=1)


class VideoVAEModel(_Section):
    """`AutoencoderKLWan` arguments. patch_size 2 folds 2×2 pixels into channels before the first conv,
    which quarters the cost of the full-resolution layers (Wan2.2's trick); the decoder may be narrower."""

    base_dim: int = 32
    decoder_base_dim: int = 16
    z_dim: int = 16
    dim_mult: list[int] = [1, 2, 2]
    num_res_blocks: int = 1
    temporal_downsample: list[bool] = [True, True]
    patch_size: int | None = 2

    @model_validator(mode="after")
    def _check(self) -> VideoVAEModel:
        if len(self.temporal_downsample) != len(self.dim_mult) - 1:
            raise ValueError(
                "video_vae.model.temporal_downsample needs one entry per downsampling (len(dim_mult) - 1)"
            )
        if 2 ** sum(self.temporal_downsample) != VIDEO_FRAME_STRIDE:
            raise ValueError(
                f"video_vae.model must downsample time by {VIDEO_FRAME_STRIDE} (two true entries)"
            )
        return self

    @property
    def spatial_factor(self) -> int:
        return (self.patch_size or 1) * 2 ** (len(self.dim_mult) - 1)


class VideoVAEStage(OptimConfig):
    model: VideoVAEModel = VideoVAEModel()
    clip_frames: int = 17  # frames per training crop (1 + 4k)
    crop: int = 128  # square spatial crop in pixels
    kl_weight: float = 1e-6  # per pixel, like Stable Diffusion's VAE
    l2_weight: float = 0.0
    # Decode a posterior sample (True) or its mean. Sampling makes the decoder robust to latents near, not
    # at, the encoder's; early in a short run the posterior noise swamps the latent and only blur is
    # learnt, so budgets of a few thousand steps decode the mean (what the pipeline's encoder hands over).
    sample_posterior: bool = True
    stats_clips: int = Field(64, ge=1)  # clips encoded at the end for the per-channel latent mean/std


class VideoCodecModel(_Section):
    """`FrameGroupAutoencoder` arguments: frames folded per latent frame, pixels folded per side, conv widths."""

    frames_per_group: int = VIDEO_FRAME_STRIDE
    patch_size: int = 2
    block_out_channels: list[int] = [64, 96, 128]
    latent_channels: int = 16
    layers_per_block: int = 1
    frames_per_code: int | None = None  # None: the whole group at once (see FrameGroupAutoencoder)
    palette: bool = False  # decode each pixel as one of Toybox's colours, trained as classification

    @model_validator(mode="after")
    def _check(self) -> VideoCodecModel:
        if self.frames_per_group != VIDEO_FRAME_STRIDE:
            raise ValueError(f"video_codec.model.frames_per_group must be {VIDEO_FRAME_STRIDE} (the pipeline's stride)")
        return self

    @property
    def spatial_factor(self) -> int:
        return self.patch_size * 2 ** (len(self.block_out_channels) - 1)


class VideoCodecStage(OptimConfig):
    """The frame-group autoencoder's stage: fresh renders every step, the loss weighted on object pixels."""

    model: VideoCodecModel = VideoCodecModel()
    clips_per_step: int = Field(4, ge=1)  # clips rendered per step and process (each new)
    groups_per_clip: int = Field(4, ge=1)  # frame groups taken from each
    first_group_prob: float = Field(0.1, ge=0, le=1)  # a group that is one still frame, how clip starts are coded
    object_weight: float = Field(10.0, ge=1)  # L1 weight of pixels that are not the backdrop (and their rim)
    # Most of a clip's groups are still (objects rest, toys stand): a codec trained on random groups learns to
    # repeat one frame four times. This share of groups is drawn where something moves, and the pixels that
    # change within a group weigh motion_weight in the loss.
    moving_share: float = Field(0.0, ge=0, le=1)
    motion_weight: float = Field(1.0, ge=1)
    # Eyes and mouths are a few pixels of a toy's head, and the mouth's opening is when speech is seen: their
    # colours (and a pixel around them) weigh face_weight.
    face_weight: float = Field(1.0, ge=1)
    # A codec folder (e.g. an earlier stage's final/) whose weights of the same shape start this codec: a
    # palette decoder can start from an RGB one, keeping all but its last layer.
    init_from: str | None = None
    latent_noise: float = Field(0.1, ge=0)  # decoder sees latents plus up to this × their std of noise
    latent_l2: float = Field(1e-4, ge=0)
    stats_clips: int = Field(64, ge=1)


class MelCodecSection(_Section):
    """The normalised log-mel as the audio latent, Griffin-Lim as the vocoder: only statistics to measure."""

    frames_per_latent: int = Field(2, ge=1)
    griffin_lim_iters: int = Field(32, ge=1)
    stats_clips: int = Field(256, ge=1)


class AudioVAEModel(_Section):
    embed_dim: int = 16
    hidden_dim: int = 64
    ch_mult: list[int] = [1, 2, 4]
    num_res_blocks: int = 1
    kernel_size: int = 3


class VocoderModel(_Section):
    """`BigVGANVocoder` arguments; the defaults are HiFi-GAN V2's shape."""

    upsample_rates: list[int] = [8, 8, 2, 2]
    upsample_kernel_sizes: list[int] = [16, 16, 4, 4]
    upsample_initial_channel: int = 128
    resblock: Literal["1", "2"] = "1"
    resblock_kernel_sizes: list[int] = [3, 7, 11]
    resblock_dilation_sizes: list[list[int]] = [[1, 3, 5], [1, 3, 5], [1, 3, 5]]

    @model_validator(mode="after")
    def _check(self) -> VocoderModel:
        if math.prod(self.upsample_rates) != MEL_HOP:
            raise ValueError(f"audio.vocoder.upsample_rates must multiply to the mel hop {MEL_HOP}")
        return self


class AudioStage(OptimConfig):
    audio_vae: AudioVAEModel = AudioVAEModel()
    vocoder: VocoderModel = VocoderModel()
    segment_samples: int = 16384  # audio VAE crop (1.024 s at 16 kHz), a multiple of 512
    vocoder_segment_samples: int = 8192  # the vocoder sees the first part of the same crop
    kl_weight: float = 1e-4  # per latent element, on the normalised-mel L1
    mel_weight: float = 1.0  # vocoder: L1 between log-mels
    stft_weight: float = 1.0  # vocoder: multi-resolution STFT (spectral convergence + log magnitude)
    vocoder_lr: float = 2e-4
    stats_clips: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _check(self) -> AudioStage:
        if self.segment_samples % (2 * MEL_HOP) or self.vocoder_segment_samples % MEL_HOP:
            raise ValueError(
                "audio.segment_samples must be a multiple of 512 and vocoder_segment_samples of 256"
            )
        if self.vocoder_segment_samples > self.segment_samples:
            raise ValueError("audio.vocoder_segment_samples must not exceed segment_samples")
        return self


class TextModel(_Section):
    vocab_size: int = 1024
    d_model: int = 128
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int = 256
    max_length: int = 192  # tokens; the pipeline refuses longer prompts
    train: bool = True  # trained jointly with the transformer (see twin.py for why)
    # unigram: SentencePiece-style pieces (toybox-v1: 174 tokens for the longest captions). bpe: words and
    # punctuation pre-split, then merges, so every caption word is one token (the longest caption: 90).
    tokenizer: Literal["unigram", "bpe"] = "unigram"


class TwinModel(_Section):
    dim: int = 192
    ffn_dim: int = 768
    num_heads: int = 4
    num_layers: int = 8
    freq_dim: int = 256
    patch_size: list[int] = [1, 2, 2]
    fusion: bool = True
    eps: float = 1e-6
    prediction_type: Literal["velocity", "sample"] = "velocity"  # see TwinDiT
    fusion_zero_init: bool = False  # start the cross-modal value projections at zero (TwinDiT.zero_fusion_values)

    @model_validator(mode="after")
    def _check(self) -> TwinModel:
        if self.patch_size[0] != 1:
            raise ValueError(
                "twin.model.patch_size must start with 1: clean first frames need per-frame timesteps"
            )
        return self


class ConditioningConfig(_Section):
    """Per-sample probabilities of holding part of the latents clean (timestep 0, no loss): these are what
    image→AV, extend, video→audio and audio→video rely on at inference. The rest of the samples are plain."""

    first_frame: float = Field(0.15, ge=0, le=1)
    prefix: float = Field(0.10, ge=0, le=1)
    video_clean: float = Field(0.10, ge=0, le=1)
    audio_clean: float = Field(0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> ConditioningConfig:
        if self.first_frame + self.prefix + self.video_clean + self.audio_clean > 1:
            raise ValueError("twin.conditioning probabilities must add up to at most 1")
        return self


class TwinStage(OptimConfig):
    model: TwinModel = TwinModel()
    text: TextModel = TextModel()
    video_weight: float = Field(0.5, ge=0)
    audio_weight: float = Field(0.5, ge=0)
    logit_mean: float = 0.0  # sigma = shift(sigmoid(N(logit_mean, logit_std)))
    logit_std: float = Field(1.0, gt=0)
    shift: float = Field(3.0, gt=0)  # the same shift is used at inference (generation.shift)
    caption_dropout: float = Field(0.1, ge=0, le=1)
    conditioning: ConditioningConfig = ConditioningConfig()
    short_clip_prob: float = Field(0.2, ge=0, le=1)  # a step trains on a shorter window (min_seconds..)
    # A shorter window's length: drawn from min_seconds up (0), or exactly this many seconds, starting at a
    # random latent frame whose time falls within offset_tolerance_ms of an audio latent's start.
    window_seconds: float = Field(0.0, ge=0)
    window_offsets: bool = False
    offset_tolerance_ms: float = Field(5.0, ge=0)
    object_weight: float = Field(1.0, ge=1)  # video loss weight of latent cells that show an object
    onset_weight: float = Field(1.0, ge=1)  # audio loss weight of latents where an impact or a syllable starts
    ema_decay: float = Field(0.999, ge=0, lt=1)
    max_minutes: float | None = Field(None, gt=0)  # stop a run after this much wall time (all ranks together)


class GenerationSection(_Section):
    """What `assemble` writes into the model folder's `GenerationConfig` (fps, rates and sizes come from data)."""

    steps: int = 10
    solver: Literal["unipc", "euler"] = "unipc"
    video_guidance_scale: float = 3.0
    audio_guidance_scale: float = 3.0
    skip_blocks: list[int] = []
    min_seconds: float = 2.0
    default_seconds: float = 4.0
    extra_sizes: list[str] = []
    # Sizes handed out when they differ from the size the model works at (data.width × data.height): frames
    # are generated at the data size and upscaled. Empty: the data size (plus extra_sizes), no upscale.
    output_sizes: list[str] = []
    upscale: Literal["bicubic", "bilinear", "nearest"] = "bicubic"


class TrainConfig(_Section):
    """One training run: data, the three stages and what the assembled model folder says."""

    name: str = "toybox-v1"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "bf16"  # autocast dtype on GPUs; CPUs always compute in fp32
    max_model_mb: float = 60.0
    data: DataConfig = DataConfig()
    video_vae: VideoVAEStage = VideoVAEStage()
    audio: AudioStage = AudioStage()
    # Set, these replace video_vae and audio (the learnt mel VAE + BigVGAN) as the model's codecs.
    video_codec: VideoCodecStage | None = None
    mel_codec: MelCodecSection | None = None
    twin: TwinStage = TwinStage()
    generation: GenerationSection = GenerationSection()

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        d, v, t = self.data, self.video_vae, self.twin
        factor = self.video_codec.model.spatial_factor if self.video_codec else v.model.spatial_factor
        if d.width % (factor * t.model.patch_size[2]) or d.height % (factor * t.model.patch_size[1]):
            raise ValueError(
                f"data.width/height must be multiples of {factor * t.model.patch_size[1]} (codec × transformer patch)"
            )
        if self.video_codec is None:
            if v.crop % factor or v.crop > min(d.width, d.height):
                raise ValueError(f"video_vae.crop must be a multiple of {factor} and fit in the frame")
            if (v.clip_frames - 1) % VIDEO_FRAME_STRIDE or v.clip_frames > d.frames:
                raise ValueError(f"video_vae.clip_frames must be 1 + 4k and at most data.frames ({d.frames})")
        if self.mel_codec is None and self.audio.segment_samples > d.audio_latents() * 2 * MEL_HOP:
            raise ValueError("audio.segment_samples is longer than a clip's audio")
        if (
            self.generation.min_seconds > self.generation.default_seconds
            or self.generation.default_seconds > d.seconds + 1e-6
        ):
            raise ValueError(
                "generation seconds must satisfy min_seconds <= default_seconds <= data.frames / fps"
            )
        if any(not 0 <= b < t.model.num_layers for b in self.generation.skip_blocks):
            raise ValueError(f"generation.skip_blocks must be blocks 0..{t.model.num_layers - 1}")
        if t.text.d_model % t.text.num_heads:
            raise ValueError("twin.text.d_model must be divisible by twin.text.num_heads")
        return self

    @property
    def min_latent_frames(self) -> int:
        """The shortest window a step trains on: the latent frames of generation.min_seconds."""
        frames = (
            VIDEO_FRAME_STRIDE
            * max(1, round(self.generation.min_seconds * self.data.fps / VIDEO_FRAME_STRIDE))
            + 1
        )
        return (min(frames, self.data.frames) - 1) // VIDEO_FRAME_STRIDE + 1


# --- loading ------------------------------------------------------------------------------------------


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A preset as a dict; `inherits: other.yaml` (beside it) is read first and overridden key by key."""
    path = path.resolve()
    if path in seen:
        raise ValueError(f"{path.name} inherits from itself")
    if not path.is_file():
        raise ValueError(f"config {path} does not exist; presets live in configs/train/")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of config sections")
    parent = data.pop("inherits", None)
    if parent is not None:
        data = _deep_merge(_read_yaml(path.parent / str(parent), (*seen, path)), data)
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides (value parsed as YAML: 3, 1e-4, true, [1, 2], text)."""
    data = _deep_merge({}, data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value (e.g. twin.steps=100), got {item!r}")
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {part} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def parse_config(data: dict[str, Any]) -> TrainConfig:
    """Validate a config dict; errors become one-line ValueErrors naming the field."""
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "value_error":  # our own checks, whose messages already name the fields
            raise ValueError(first["msg"].removeprefix("Value error, ")) from None
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ValueError(f"{where}: {first['msg']}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML preset, apply `--set` overrides and validate."""
    return parse_config(apply_overrides(_read_yaml(Path(path)), overrides or []))


def dump_config(cfg: TrainConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
