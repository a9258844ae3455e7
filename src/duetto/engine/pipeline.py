"""`Pipeline`: prompt (and optionally an image, a video, a sound or a clip) in, a `Clip` with synchronized audio out."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from duetto.clip import Clip, parse_size
from duetto.engine.codecs import Codecs
from duetto.engine.model_folder import GenerationConfig, ModelFolder, load_model_folder, save_model_folder
from duetto.engine.text_encoder import PromptEncoder, pad_contexts
from duetto.media import fit_length

ProgressCallback = Callable[[int, int], None]


def rewrite_audio_caption(prompt: str, style: str) -> str:
    """Rewrites the audio description into the syntax the checkpoint was trained with."""
    if style == "audcap":
        return re.sub(r"Audio:\s*(.*)$", r"<AUDCAP>\1<ENDAUDCAP>", prompt, flags=re.DOTALL)
    return re.sub(r"<AUDCAP>(.*?)<ENDAUDCAP>", r"Audio: \1", prompt, flags=re.DOTALL)


@dataclass
class _Conditioning:
    """What is held clean during sampling, and where sampling starts."""

    video_clean: torch.Tensor | None = None  # (1, C, F, h, w)
    video_clean_frames: torch.Tensor | None = None  # (F,) bool
    audio_clean: torch.Tensor | None = None  # (1, L, C)
    audio_clean_frames: torch.Tensor | None = None  # (L,) bool
    video_start: torch.Tensor | None = None  # clean latents to noise up to the start sigma (remix)
    audio_start: torch.Tensor | None = None
    start_step: int = 0
    keep_frames: np.ndarray | None = None  # output frames to return instead of decoding (video→audio)
    keep_audio: np.ndarray | None = None  # output waveform to return instead of vocoding (audio→video)
    prefix: Clip | None = None  # the clip an extension continues; the output is prefix + new part
    prefix_frames: int = 0  # how many generated frames repeat the prefix's tail (dropped when stitching)


class Pipeline:
    """Joint video+audio generation with a twin-tower transformer.

    Components (diffusers layout, one subfolder each): `transformer` (TwinDiT), `vae` (AutoencoderKLWan),
    `audio_vae` (AudioVAE), `vocoder` (BigVGANVocoder), `text_encoder` (UMT5EncoderModel), `tokenizer`.
    """

    def __init__(self, folder: ModelFolder, *, device: str | torch.device = "cpu", name: str | None = None):
        self.folder = folder
        self.config: GenerationConfig = folder.generation
        self.name = name or folder.name
        self.prompts = PromptEncoder(folder.tokenizer, folder.text_encoder, self.config.text_max_length)
        self.offload = False  # set by memory profiles: keep components on the CPU between uses
        self.codecs = Codecs(folder.vae, folder.audio_vae, folder.vocoder, self.config, device=device,
                             placement=self._using)
        self.device = torch.device(device)

    # -- loading and saving -------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | torch.device = "cpu",
                        dtype: torch.dtype | None = None, memory_profile: str | None = None) -> Pipeline:
        """Loads a model folder; `ValueError` with a one-line message when it is missing or incomplete.

        Weights are computed in float32 on the CPU by default: models ship in fp16 to be small, but CPUs have
        no fast fp16 kernels (a 4 s Toybox clip took over 6x longer in fp16)."""
        if dtype is None and torch.device(device).type == "cpu":
            dtype = torch.float32
        folder = load_model_folder(Path(path), dtype=dtype)
        pipe = cls(folder, device=device)
        if memory_profile:
            from duetto.engine.memory import apply_memory_profile

            pipe.offload = apply_memory_profile(folder, memory_profile)
        # Offloaded components wait on the CPU; `_using` brings each to the device while it runs.
        for module in folder.modules().values():
            module.to("cpu" if pipe.offload else pipe.device)
        return pipe

    def save_pretrained(self, path: str | Path) -> Path:
        return save_model_folder(self.folder, Path(path))

    @property
    def device(self) -> torch.device:
        return self.codecs.device

    @device.setter
    def device(self, device: str | torch.device) -> None:
        self.codecs.device = torch.device(device)

    def to(self, device: str | torch.device) -> Pipeline:
        self.device = torch.device(device)
        for module in self.folder.modules().values():
            module.to(self.device)
        return self

    @property
    def sizes(self) -> list[str]:
        return list(self.config.sizes)

    @property
    def seconds_range(self) -> tuple[float, float]:
        return (self.config.min_seconds, self.config.max_seconds)

    @contextmanager
    def _using(self, *names: str):
        """Puts the named components on the compute device for the duration (memory profiles offload)."""
        modules = [self.folder.modules()[n] for n in names]
        if self.offload:
            for m in modules:
                m.to(self.device)
        try:
            yield
        finally:
            if self.offload:
                for m in modules:
                    m.to("cpu")
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    # -- geometry -----------------------------------------------------------------------------------------
    @property
    def _vae_stride(self) -> tuple[int, int]:
        return self.codecs.strides

    def num_frames(self, seconds: float) -> int:
        """Frames for a duration: the causal VAE needs 1 + a multiple of its temporal stride."""
        stride = self._vae_stride[0]
        return stride * max(1, round(seconds * self.config.fps / stride)) + 1

    def exceeds_max_seconds(self, seconds: float) -> bool:
        """Whether `seconds` is longer than the model makes, compared in frames: a clip the model made itself
        (97 frames = 4.0417 s at 24 fps) is its own length though its duration rounds above the stated 4.04 s."""
        return self.num_frames(seconds) > self.num_frames(self.config.max_seconds)

    def num_audio_latents(self, num_frames: int) -> int:
        return int(num_frames / self.config.fps * self.config.sample_rate / self.config.samples_per_audio_latent)

    def num_samples(self, num_frames: int) -> int:
        return round(num_frames / self.config.fps * self.config.sample_rate)

    # -- checks -------------------------------------------------------------------------------------------
    def check_inputs(self, prompt: str, seconds: float, size: str, steps: int, strength: float) -> tuple[int, int]:
        """Raises `ValueError` with a one-line, actionable message for anything the model cannot do."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the prompt is empty; describe the video and its sound")
        width, height = parse_size(size)
        if size not in self.config.sizes and f"{width}x{height}" not in self.config.sizes:
            raise ValueError(f"size {size} is not supported by {self.name}; choose one of: {', '.join(self.sizes)}")
        lo, hi = self.seconds_range
        if math.isnan(seconds) or seconds < lo or self.exceeds_max_seconds(seconds):
            raise ValueError(f"seconds must be between {lo:g} and {hi:g} for {self.name}, got {seconds:g}")
        if steps < 1 or steps > 1000:
            raise ValueError(f"steps must be between 1 and 1000, got {steps}")
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength:g}")
        self.prompts.check(prompt)
        return width, height

    # -- encoding helpers (the codecs') -------------------------------------------------------------------
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) at the model size → normalised video latents (1, C, F, h, w)."""
        return self.codecs.encode_frames(frames)

    def decode_frames(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised video latents (1, C, F, h, w) → uint8 (T, H, W, 3) at the model size."""
        return self.codecs.decode_frames(latents)

    def encode_audio(self, waveform: np.ndarray, num_latents: int) -> torch.Tensor:
        """Mono float waveform → audio latents (1, L, C), padded or trimmed to `num_latents`."""
        return self.codecs.encode_audio(waveform, num_latents)

    def decode_audio(self, latents: torch.Tensor) -> np.ndarray:
        """Audio latents (1, L, C) → mono float32 waveform."""
        return self.codecs.decode_audio(latents)

    def vocode(self, mel: torch.Tensor) -> np.ndarray:
        """Log-mel (1, n_mels, frames) → mono float32 waveform."""
        return self.codecs.vocode(mel)

    def _encode_prompts(self, prompt: str, video_negative: str, audio_negative: str):
        with self._using("text_encoder"):
            pos, vneg, aneg = self.prompts.encode([prompt, video_negative, audio_negative], device=self.device)
        dtype = self.folder.transformer.dtype
        return tuple(pad_contexts([c]).to(dtype) for c in (pos, vneg, aneg))

    # -- conditioning -------------------------------------------------------------------------------------
    def _fit_frames(self, frames: np.ndarray, width: int, height: int, num_frames: int | None = None) -> np.ndarray:
        """Resizes frames to the model size (and pads/trims to `num_frames`, repeating the last one)."""
        from PIL import Image

        if frames.shape[1:3] != (height, width):
            frames = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in frames])
        if num_frames is not None:
            if len(frames) >= num_frames:
                frames = frames[:num_frames]
            else:
                frames = np.concatenate([frames, np.repeat(frames[-1:], num_frames - len(frames), axis=0)])
        return frames

    def _mono(self, clip: Clip) -> np.ndarray:
        from duetto.media import resample

        return resample(clip.mono.astype(np.float32)[None], int(clip.sample_rate), self.config.sample_rate)[0]

    # -- generation ---------------------------------------------------------------------------------------
    def __call__(
        self,
        prompt: str,
        *,
        seconds: float | None = None,
        size: str | None = None,
        steps: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        audio_negative_prompt: str | None = None,
        image: Any = None,
        video: Clip | None = None,
        audio: Clip | None = None,
        remix_of: Clip | None = None,
        strength: float = 0.6,
        extend: Clip | None = None,
        solver: str | None = None,
        shift: float | None = None,
        video_guidance_scale: float | None = None,
        audio_guidance_scale: float | None = None,
        callback: ProgressCallback | None = None,
    ) -> Clip:
        """Generates a clip. Give at most one of `image`, `video` (sound for a silent video), `audio`
        (picture for a sound), `remix_of` (a new take on a clip, `strength` 1 = all new) or `extend`
        (continue a clip by `seconds`)."""
        from duetto.engine.sampling.guidance import GuidanceConfig
        from duetto.engine.sampling.schedules import flow_sigmas

        cfg = self.config
        timings: dict[str, float] = {}
        given = [n for n, v in (("image", image), ("video", video), ("audio", audio), ("remix_of", remix_of),
                                ("extend", extend)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of image, video, audio, remix_of, extend (got {', '.join(given)})")

        # 1. Check inputs. A given video or sound fixes the duration; an extension's window holds a prefix.
        seconds, window_seconds, size, steps = self._resolve(seconds, size, steps, video, audio, remix_of, extend)
        width, height = self.check_inputs(prompt, seconds, size, steps, strength)
        model_width, model_height = self.codecs.model_size(width, height)
        prompt = rewrite_audio_caption(prompt, cfg.audio_caption_format)
        seed = int(seed if seed is not None else torch.randint(0, 2**31 - 1, (1,)).item())

        # 2. Encode the prompt and the two negative prompts (one per tower).
        t0 = time.perf_counter()
        contexts = self._encode_prompts(
            prompt, negative_prompt or cfg.video_negative_prompt, audio_negative_prompt or cfg.audio_negative_prompt
        )
        timings["text_s"] = time.perf_counter() - t0

        # 3. Starting noise at the model's size, then the conditioning: what is held clean, where sampling starts.
        t0 = time.perf_counter()
        num_frames = self.num_frames(window_seconds)
        num_audio = self.num_audio_latents(num_frames)
        video_noise, audio_noise = self._noise(seed, num_frames, num_audio, model_width, model_height)
        cond = self._conditioning(image=image, video=video, audio=audio, remix_of=remix_of, extend=extend,
                                  strength=strength, steps=steps, width=model_width, height=model_height,
                                  num_frames=num_frames, num_audio=num_audio, output_size=(width, height))
        timings["encode_s"] = time.perf_counter() - t0

        # 4. The joint denoising loop; with `audio_second_pass`, the sound again for the picture held clean.
        sigmas = flow_sigmas(steps, shift=shift if shift is not None else cfg.shift).to(self.device)
        guidance = GuidanceConfig(
            video_scale=cfg.video_guidance_scale if video_guidance_scale is None else video_guidance_scale,
            audio_scale=cfg.audio_guidance_scale if audio_guidance_scale is None else audio_guidance_scale,
            skip_blocks=tuple(cfg.skip_blocks),
        )
        t0 = time.perf_counter()
        video_latents, audio_latents = self._denoise(video_noise, audio_noise, contexts, cond, sigmas,
                                                     solver or cfg.solver, guidance, callback)
        if cfg.audio_second_pass and cond.keep_audio is None and cond.keep_frames is None:
            every_frame = _mask(video_latents.shape[2], first=video_latents.shape[2])
            again = _Conditioning(video_clean=video_latents, video_clean_frames=every_frame,
                                  audio_clean=cond.audio_clean, audio_clean_frames=cond.audio_clean_frames)
            _, audio_latents = self._denoise(video_noise, audio_noise, contexts, again, sigmas,
                                             solver or cfg.solver, guidance, callback)
        timings["denoise_s"] = time.perf_counter() - t0

        # 5. Decode: the video codec for frames (resized to the size asked for), the audio codec and vocoder
        #    for sound, or keep what was given.
        t0 = time.perf_counter()
        frames = cond.keep_frames
        if frames is None:
            frames = self.codecs.resize(self.decode_frames(video_latents), width, height)
        timings["vae_decode_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        wav = cond.keep_audio if cond.keep_audio is not None else self.decode_audio(audio_latents)
        timings["vocoder_s"] = time.perf_counter() - t0
        wav = fit_length(wav, self.num_samples(len(frames)))

        # 6. The clip and what made it; an extension comes back with the clip it continues before it.
        metadata = {"prompt": prompt, "seed": seed, "model": self.name, "steps": steps, "size": f"{width}x{height}",
                    "seconds": seconds, "mode": given[0] if given else "text", "timings": timings}
        clip = Clip(frames=frames, audio=wav, fps=cfg.fps, sample_rate=cfg.sample_rate, metadata=metadata)
        if cond.prefix is not None:
            clip = _stitch(cond.prefix, clip, cond.prefix_frames, self)
        return clip

    def _resolve(self, seconds, size, steps, video, audio, remix_of, extend) -> tuple[float, float, str, int]:
        """(seconds, window seconds, size, steps) with the model's defaults filled in."""
        cfg = self.config
        if video is not None:
            seconds = video.video_seconds if seconds is None else seconds
        elif audio is not None:
            seconds = audio.audio_seconds if seconds is None else seconds
        elif remix_of is not None and seconds is None:
            seconds = min(remix_of.video_seconds, cfg.max_seconds)
        seconds = float(cfg.default_seconds if seconds is None else seconds)
        window_seconds = seconds
        if extend is not None:
            # The new window starts with the clip's last second held clean, then `seconds` of new material.
            window_seconds = seconds + (self.extension_prefix_frames(extend) - 1) / cfg.fps
            if self.exceeds_max_seconds(window_seconds):
                raise ValueError(f"an extension can add at most {cfg.max_seconds - (window_seconds - seconds):.2f}"
                                 f" seconds with {self.name}, got {seconds:g}")
        return seconds, window_seconds, size or cfg.default_size, int(steps or cfg.steps)

    def _noise(self, seed: int, num_frames: int, num_audio: int, width: int, height: int):
        """Video (1, C, F, h, w) and audio (1, L, C) starting noise, one generator per modality as Ovi."""
        t_stride, s_stride = self._vae_stride
        z_dim = self.folder.transformer.config.video_config["in_dim"]
        a_dim = self.folder.transformer.config.audio_config["in_dim"]
        video_shape = (1, z_dim, (num_frames - 1) // t_stride + 1, height // s_stride, width // s_stride)
        dtype = self.folder.transformer.dtype
        video = torch.randn(video_shape, generator=torch.Generator("cpu").manual_seed(seed))
        audio = torch.randn((1, num_audio, a_dim), generator=torch.Generator("cpu").manual_seed(seed))
        return video.to(self.device, dtype), audio.to(self.device, dtype)

    def _denoise(self, video_noise, audio_noise, contexts, cond: _Conditioning, sigmas, solver, guidance,
                 callback) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass of the joint loop from the conditioning's start (re-noised inputs for a remix)."""
        from duetto.engine.sampling.denoise import LatentStream, denoise_joint

        ctx_pos, ctx_vneg, ctx_aneg = contexts
        dtype = self.folder.transformer.dtype
        video_start, audio_start = video_noise, audio_noise
        if cond.start_step > 0:
            sigma = sigmas[cond.start_step].to(dtype)
            video_start = (1 - sigma) * cond.video_start.to(dtype) + sigma * video_noise
            audio_start = (1 - sigma) * cond.audio_start.to(dtype) + sigma * audio_noise
        with self._using("transformer"):
            return denoise_joint(
                self.folder.transformer,
                LatentStream(video_start, ctx_pos, ctx_vneg, _to(cond.video_clean, dtype), cond.video_clean_frames),
                LatentStream(audio_start, ctx_pos, ctx_aneg, _to(cond.audio_clean, dtype), cond.audio_clean_frames),
                sigmas=sigmas, solver=solver, guidance=guidance, start_step=cond.start_step, callback=callback,
            )

    def _conditioning(self, *, image, video, audio, remix_of, extend, strength, steps, width, height,
                      num_frames, num_audio, output_size) -> _Conditioning:
        """What is held clean and where sampling starts; given pictures are fitted to width × height, the size
        the model works at (a video kept for video→audio is fitted to the output size instead)."""
        cond = _Conditioning()
        n_latent_frames = (num_frames - 1) // self._vae_stride[0] + 1
        if image is not None:
            frame = self._fit_frames(_image_array(image)[None], width, height)
            cond.video_clean = self.encode_frames(frame)  # (1, C, 1, h, w)
            cond.video_clean = _pad_frames(cond.video_clean, n_latent_frames)
            cond.video_clean_frames = _mask(n_latent_frames, first=1)
        elif video is not None:
            frames = self._fit_frames(video.frames, width, height, num_frames)
            cond.video_clean = self.encode_frames(frames)
            cond.video_clean_frames = _mask(n_latent_frames, first=n_latent_frames)
            cond.keep_frames = self._fit_frames(video.frames, *output_size, num_frames)
        elif audio is not None:
            wav = self._mono(audio)
            cond.audio_clean = self.encode_audio(wav, num_audio)
            cond.audio_clean_frames = _mask(num_audio, first=num_audio)
            cond.keep_audio = wav
        elif remix_of is not None:
            frames = self._fit_frames(remix_of.frames, width, height, num_frames)
            cond.video_start = self.encode_frames(frames)
            cond.audio_start = self.encode_audio(self._mono(remix_of), num_audio)
            cond.start_step = min(steps - 1, int(round(steps * (1.0 - strength))))
        elif extend is not None:
            # Continue from the clip's last second: its tail becomes a clean prefix of the new window.
            prefix_frames = self.extension_prefix_frames(extend)
            tail = self._fit_frames(extend.frames[-prefix_frames:], width, height)
            video_prefix = self.encode_frames(tail)
            k = video_prefix.shape[2]
            cond.video_clean = _pad_frames(video_prefix, n_latent_frames)
            cond.video_clean_frames = _mask(n_latent_frames, first=k)
            wav = self._mono(extend)
            tail_samples = self.num_samples(prefix_frames)
            a_k = self.num_audio_latents(prefix_frames)
            audio_prefix = self.encode_audio(wav[-tail_samples:], a_k)
            cond.audio_clean = torch.cat([audio_prefix, audio_prefix.new_zeros(1, num_audio - a_k,
                                                                                audio_prefix.shape[2])], dim=1)
            cond.audio_clean_frames = _mask(num_audio, first=a_k)
            cond.prefix = extend
            cond.prefix_frames = prefix_frames
        return cond

    def extension_prefix_frames(self, clip: Clip) -> int:
        """Frames of a clip's tail that an extension holds clean: about one second, 1 + k·stride."""
        t_stride = self._vae_stride[0]
        frames = min(t_stride * max(1, round(self.config.fps / t_stride)) + 1, clip.num_frames)
        return (frames - 1) // t_stride * t_stride + 1

    def generation_defaults(self) -> dict[str, Any]:
        return asdict(self.config)


def _to(x: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    return None if x is None else x.to(dtype)


def _mask(n: int, *, first: int) -> torch.Tensor:
    mask = torch.zeros(n, dtype=torch.bool)
    mask[:first] = True
    return mask


def _pad_frames(latents: torch.Tensor, n: int) -> torch.Tensor:
    """Zero-pads video latents (1, C, k, h, w) along frames to n (the padded part is never held clean)."""
    pad = latents.new_zeros(latents.shape[0], latents.shape[1], n - latents.shape[2], *latents.shape[3:])
    return torch.cat([latents, pad], dim=2)


def _image_array(image: Any) -> np.ndarray:
    """PIL image, path or uint8 array → uint8 (H, W, 3)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, np.ndarray):
        return image.astype(np.uint8)
    if isinstance(image, str | Path):
        try:
            with Image.open(image) as img:
                return np.asarray(img.convert("RGB"))
        except (OSError, UnidentifiedImageError) as err:
            raise ValueError(f"cannot read image {image}: not a readable PNG/JPEG/WebP file") from err
    return np.asarray(image.convert("RGB"))


def _stitch(prefix: Clip, new: Clip, overlap_frames: int, pipe: Pipeline) -> Clip:
    """Original clip + the generated continuation (whose first `overlap_frames` repeat the original's tail): the
    original's picture and sound up to its end, crossfaded there into the continuation's own sound, so the join
    has no step (the continuation's decoded sound of the overlap is near the original's, not equal to it)."""
    from duetto.media.stitch import stitch

    # stitch() fits each clip's sound to its picture's length.
    original = Clip(frames=pipe._fit_frames(prefix.frames, new.width, new.height), audio=pipe._mono(prefix),
                    fps=new.fps, sample_rate=new.sample_rate)
    joined = stitch([original, new], [0, overlap_frames])
    joined.metadata = dict(new.metadata, mode="extend", seconds=joined.metadata["seconds"])
    return joined
