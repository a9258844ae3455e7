"""The guided joint loop against Ovi's own sampling runs on the tiny fusion model (fixtures section B)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from duetto.engine.models.transformer_twin import TwinDiT
from duetto.engine.sampling import denoise as denoise_module
from duetto.engine.sampling.denoise import LatentStream, denoise_joint
from duetto.engine.sampling.guidance import GuidanceConfig
from duetto.engine.sampling.schedules import flow_sigmas, timesteps_from_sigmas
from duetto.engine.sampling.solvers import make_solver

REL_TOL = 1e-4


class _StopRun(Exception):
    """Raised from the callback to end a run early, as a cancelled job would."""


def _rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max()).item()


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    err = _rel_err(actual, expected)
    assert err <= REL_TOL, f"{what}: relative error {err:.2e} > {REL_TOL:.0e}"


@pytest.fixture(scope="module")
def reference(ovi_fixtures):
    return load_file(ovi_fixtures / "sampler.safetensors"), json.loads(
        (ovi_fixtures / "sampler.json").read_text()
    )


@pytest.fixture(scope="module")
def tiny_model(ovi_fixtures) -> TwinDiT:
    config = json.loads((ovi_fixtures / "fusion_tiny_config.json").read_text())
    model = TwinDiT(video_config=config["video_config"], audio_config=config["audio_config"])
    model.load_state_dict(load_file(ovi_fixtures / "fusion_tiny_weights.safetensors"), strict=True)
    return model.eval()


def _guidance(meta: dict) -> GuidanceConfig:
    g = meta["guidance"]
    # The reference skips block `slg_layer` only when it is > 0.
    skip = (int(g["slg_layer"]),) if g["slg_layer"] and int(g["slg_layer"]) > 0 else ()
    return GuidanceConfig(
        video_scale=g["video_guidance_scale"], audio_scale=g["audio_guidance_scale"], skip_blocks=skip
    )


def _streams(tensors: dict, image_to_video: bool) -> tuple[LatentStream, LatentStream]:
    """The reference inputs with a batch dimension; for i2v, the image latent is the clean leading frames."""
    video_noise, audio_noise = tensors["input.video_noise"][None], tensors["input.audio_noise"][None]
    text_pos = tensors["input.text_pos"][None]
    clean = clean_frames = None
    if image_to_video:
        image = tensors["input.i2v_image_latent"][None]  # (1, C, F_image, h, w)
        clean = torch.zeros_like(video_noise)
        clean[:, :, : image.shape[2]] = image
        clean_frames = torch.arange(video_noise.shape[2]) < image.shape[2]
    video = LatentStream(video_noise, text_pos, tensors["input.text_video_neg"][None], clean, clean_frames)
    audio = LatentStream(audio_noise, text_pos, tensors["input.text_audio_neg"][None])
    return video, audio


class _Recorder:
    """Captures what the loop's solvers return at each step and the model's raw outputs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, model: TwinDiT) -> None:
        self.solver_outputs: dict[
            int, list[torch.Tensor]
        ] = {}  # keyed by the sample's ndim: 5 video, 3 audio
        self.model_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

        def recording_make_solver(name, sigmas):
            solver = make_solver(name, sigmas)
            step = solver.step

            def recorded_step(velocity, sample):
                out = step(velocity, sample)
                self.solver_outputs.setdefault(sample.ndim, []).append(out.clone())
                return out

            solver.step = recorded_step
            return solver

        monkeypatch.setattr(denoise_module, "make_solver", recording_make_solver)
        handle = model.register_forward_hook(lambda _m, _args, out: self.model_outputs.append(out))
        self.remove_hook = handle.remove


def _run(reference, model, monkeypatch, run: str, *, stop_after: int | None = None):
    tensors, meta = reference
    info = meta["runs"][run]
    sigmas = flow_sigmas(info["sample_steps"])
    assert torch.equal(timesteps_from_sigmas(sigmas)[: info["steps_run"]], tensors[f"{run}.timesteps_used"])
    video, audio = _streams(tensors, image_to_video=info["first_frame_is_clean"])
    recorder = _Recorder(monkeypatch, model)

    def callback(done: int, total: int) -> None:
        if stop_after is not None and done == stop_after:
            raise _StopRun

    try:
        out = denoise_joint(model, video, audio, sigmas=sigmas, guidance=_guidance(meta), callback=callback)
    except _StopRun:
        out = None
    finally:
        recorder.remove_hook()
    return out, recorder


def test_t2v_10_steps(reference, tiny_model, monkeypatch):
    tensors, _ = reference
    (final_video, final_audio), rec = _run(reference, tiny_model, monkeypatch, "t2v_steps10")

    # Step 0: the positive pass, then the skip-block negative pass.
    (pos_video, pos_audio), (neg_video, neg_audio) = rec.model_outputs[:2]
    _assert_close(pos_video[0], tensors["t2v_steps10.step0.video_velocity_pos"], "step 0 video v_pos")
    _assert_close(pos_audio[0], tensors["t2v_steps10.step0.audio_velocity_pos"], "step 0 audio v_pos")
    _assert_close(neg_video[0], tensors["t2v_steps10.step0.video_velocity_neg"], "step 0 video v_neg")
    _assert_close(neg_audio[0], tensors["t2v_steps10.step0.audio_velocity_neg"], "step 0 audio v_neg")

    ref_video_steps = tensors["t2v_steps10.video_latents_per_step"]
    ref_audio_steps = tensors["t2v_steps10.audio_latents_per_step"]
    assert len(rec.model_outputs) == 2 * ref_video_steps.shape[0]
    assert len(rec.solver_outputs[5]) == ref_video_steps.shape[0] == len(rec.solver_outputs[3])
    for i, (v, a) in enumerate(zip(rec.solver_outputs[5], rec.solver_outputs[3], strict=True)):
        _assert_close(v[0], ref_video_steps[i], f"video latent after step {i}")
        _assert_close(a[0], ref_audio_steps[i], f"audio latent after step {i}")
    _assert_close(final_video[0], tensors["t2v_steps10.final_video_latent"], "final video")
    _assert_close(final_audio[0], tensors["t2v_steps10.final_audio_latent"], "final audio")


def test_t2v_first_10_of_50_steps(reference, tiny_model, monkeypatch):
    tensors, meta = reference
    steps_run = meta["runs"]["t2v_steps50_first10"]["steps_run"]
    out, rec = _run(reference, tiny_model, monkeypatch, "t2v_steps50_first10", stop_after=steps_run)
    assert out is None, "the callback's exception must propagate out of the loop"
    assert len(rec.solver_outputs[5]) == steps_run
    _assert_close(
        rec.solver_outputs[5][-1][0], tensors["t2v_steps50_first10.final_video_latent"], "video after step 10"
    )
    _assert_close(
        rec.solver_outputs[3][-1][0], tensors["t2v_steps50_first10.final_audio_latent"], "audio after step 10"
    )


def test_i2v_10_steps(reference, tiny_model, monkeypatch):
    tensors, _ = reference
    (final_video, final_audio), _rec = _run(reference, tiny_model, monkeypatch, "i2v_steps10")
    image = tensors["input.i2v_image_latent"]
    assert torch.equal(final_video[0, :, : image.shape[1]], image), "the image frame must come back exactly"
    _assert_close(final_video[0], tensors["i2v_steps10.final_video_latent"], "i2v final video")
    _assert_close(final_audio[0], tensors["i2v_steps10.final_audio_latent"], "i2v final audio")
