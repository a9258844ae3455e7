"""Sigma schedules against the Ovi reference, flow-solver properties a wrong step would break, and the joint loop's wiring."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from diffusers import UniPCMultistepScheduler
from safetensors.torch import load_file

from duetto.engine.sampling.denoise import LatentStream, denoise_joint
from duetto.engine.sampling.guidance import GuidanceConfig, guided
from duetto.engine.sampling.schedules import flow_sigmas, shift_sigmas, timesteps_from_sigmas
from duetto.engine.sampling.solvers import FlowEulerSolver, FlowUniPCSolver, make_solver


@pytest.fixture(scope="module")
def sampler_ref(ovi_fixtures) -> dict[str, torch.Tensor]:
    return load_file(ovi_fixtures / "sampler.safetensors")


def _reference_schedules(ref: dict[str, torch.Tensor]) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """{num_steps: (sigmas, timesteps)} for every schedule stored in the fixture file."""
    out = {}
    for key in ref:
        match = re.fullmatch(r"schedule\.steps(\d+)\.sigmas", key)
        if match:
            n = int(match.group(1))
            out[n] = (ref[key], ref[f"schedule.steps{n}.timesteps"])
    return out


# --- schedules ---------------------------------------------------------------------------------


def test_schedules_match_reference(sampler_ref):
    schedules = _reference_schedules(sampler_ref)
    assert len(schedules) >= 2, "expected the 10- and 50-step schedules in the fixtures"
    for n, (ref_sigmas, ref_timesteps) in schedules.items():
        sigmas = flow_sigmas(n, shift=5.0)
        assert sigmas.dtype == torch.float32 and sigmas.shape == ref_sigmas.shape
        torch.testing.assert_close(sigmas, ref_sigmas, rtol=0, atol=1.2e-7)
        assert sigmas[-1].item() == 0.0
        timesteps = timesteps_from_sigmas(sigmas)
        assert timesteps.dtype == torch.int64
        assert torch.equal(timesteps, ref_timesteps), f"{n}-step timesteps differ"


def test_run_timesteps_are_a_prefix_of_their_schedule(sampler_ref):
    # Every stored run records the timesteps it used; they must be the head of its schedule.
    schedules = _reference_schedules(sampler_ref)
    for key, used in sampler_ref.items():
        match = re.fullmatch(r"(t2v|i2v)_steps(\d+)\w*\.timesteps_used", key)
        if match:
            full = timesteps_from_sigmas(flow_sigmas(int(match.group(2))))
            assert torch.equal(full[: used.numel()], used), key
            assert int(match.group(2)) in schedules


def test_shift_moves_steps_towards_noise():
    plain = flow_sigmas(20, shift=1.0)
    shifted = flow_sigmas(20, shift=5.0)
    # Shift 1 is the evenly spaced table itself.
    expected = np.linspace(np.float32(0.999).item(), 0.0, 21)[:-1]
    torch.testing.assert_close(plain[:-1], torch.from_numpy(expected).float(), rtol=0, atol=1e-7)
    assert (shifted[1:-1] > plain[1:-1]).all()
    assert (shifted[1:] < shifted[:-1]).all()
    # The helper is the same map on arrays and tensors, and fixes 0 and 1.
    values = np.array([0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(shift_sigmas(values, 3.0), [0.0, 0.5, 0.75, 1.0])
    torch.testing.assert_close(
        shift_sigmas(torch.tensor(values), 3.0), torch.tensor([0.0, 0.5, 0.75, 1.0], dtype=torch.float64)
    )


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError):
        flow_sigmas(0)
    with pytest.raises(ValueError):
        flow_sigmas(10, shift=0.0)
    with pytest.raises(ValueError):
        timesteps_from_sigmas(torch.tensor([0.5]))


# --- solvers -----------------------------------------------------------------------------------


def _straight_field(x0: torch.Tensor):
    """The velocity field of a single known data point: every path is a straight line into x0."""
    return lambda x, sigma: (x - x0) / sigma


@pytest.mark.parametrize("name", ["euler", "unipc"])
@pytest.mark.parametrize("start", [0, 4])
def test_solvers_exact_on_straight_paths(name, start):
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(2, 3, 5, generator=gen)
    eps = torch.randn(2, 3, 5, generator=gen)
    sigmas = flow_sigmas(10)[start:]
    field = _straight_field(x0)
    solver = make_solver(name, sigmas)
    x = (1 - sigmas[0]) * x0 + sigmas[0] * eps
    for i in range(solver.num_steps):
        x = solver.step(field(x, sigmas[i]), x)
        # Each step lands exactly on the line between x0 and the starting noise.
        expected = (1 - sigmas[i + 1]) * x0 + sigmas[i + 1] * eps
        torch.testing.assert_close(x, expected, rtol=0, atol=2e-5)
    torch.testing.assert_close(x, x0, rtol=0, atol=2e-5)


def _gaussian_problem(data_std: float, mean: float = 0.7, n: int = 2000):
    """Data ~ N(mean, data_std²): the exact velocity and the exact ODE endpoint for each noise draw."""
    eps = torch.randn(n, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def field(x, sigma):
        sigma = sigma.double()
        alpha = 1 - sigma
        x0_hat = mean + alpha * data_std**2 / (alpha**2 * data_std**2 + sigma**2) * (x - alpha * mean)
        return (x - x0_hat) / sigma

    def state_at(sigma):
        sigma = sigma.double()
        return (1 - sigma) * mean + torch.sqrt((1 - sigma) ** 2 * data_std**2 + sigma**2) * eps

    return field, state_at, mean + data_std * eps


def _solve_error(name: str, num_steps: int, shift: float) -> float:
    field, state_at, target = _gaussian_problem(data_std=1.0)
    sigmas = flow_sigmas(num_steps, shift=shift)
    solver = make_solver(name, sigmas)
    x = state_at(sigmas[0])
    for i in range(num_steps):
        x = solver.step(field(x, sigmas[i]), x)
    return (x - target).abs().max().item()


def test_unipc_beats_euler_and_converges_faster():
    euler_10, euler_20 = _solve_error("euler", 10, 1.0), _solve_error("euler", 20, 1.0)
    unipc_10, unipc_20 = _solve_error("unipc", 10, 1.0), _solve_error("unipc", 20, 1.0)
    assert unipc_10 < euler_10 / 4
    assert unipc_20 < euler_20 / 4
    # Euler is first order (doubling the steps halves the error); UniPC-2 at least second order.
    assert 1.5 < euler_10 / euler_20 < 2.5
    assert unipc_10 / unipc_20 > 3.5
    # Also at Ovi's shift, where the last step dominates less once there are enough steps.
    assert _solve_error("unipc", 20, 5.0) < _solve_error("euler", 20, 5.0) / 4


def _diffusers_unipc(sigmas: torch.Tensor) -> UniPCMultistepScheduler:
    """diffusers' own UniPC in flow mode on the same sigmas: an independent implementation to agree with."""
    scheduler = UniPCMultistepScheduler(
        num_train_timesteps=1000,
        solver_order=2,
        solver_type="bh2",
        predict_x0=True,
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=1.0,
        lower_order_final=True,
        final_sigmas_type="zero",
    )
    scheduler.set_timesteps(sigmas=sigmas[:-1].double().numpy())
    assert torch.equal(scheduler.sigmas, sigmas)
    return scheduler


@pytest.mark.parametrize("num_steps,start", [(3, 0), (10, 0), (10, 6), (25, 9)])
def test_unipc_agrees_with_diffusers(num_steps, start):
    sigmas = flow_sigmas(num_steps)
    weight = torch.randn(4, 4, generator=torch.Generator().manual_seed(3)) * 0.5

    def field(x, sigma):  # nonlinear, so the multistep history matters
        return torch.tanh(x @ weight) * (1 + sigma) + x

    reference = _diffusers_unipc(sigmas)
    reference.set_begin_index(start)
    ours = FlowUniPCSolver(sigmas[start:], order=2)
    x_ref = torch.randn(2, 4, generator=torch.Generator().manual_seed(4))
    x = x_ref.clone()
    for i in range(start, num_steps):
        x_ref = reference.step(field(x_ref, sigmas[i]), reference.timesteps[i], x_ref).prev_sample
        x = ours.step(field(x, sigmas[i]), x)
        torch.testing.assert_close(x, x_ref, rtol=1e-6, atol=1e-6)


def test_mid_schedule_start_equals_continuing_a_full_run_for_euler():
    sigmas = flow_sigmas(12)
    velocities = torch.randn(12, 6, generator=torch.Generator().manual_seed(5))
    full, part = FlowEulerSolver(sigmas), FlowEulerSolver(sigmas[5:])
    x = torch.zeros(6)
    for i in range(5):
        x = full.step(velocities[i], x)
    y = x.clone()
    for i in range(5, 12):
        x = full.step(velocities[i], x)
        y = part.step(velocities[i], y)
    torch.testing.assert_close(x, y, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["euler", "unipc"])
def test_reset_replays_and_overstepping_is_refused(name):
    sigmas = flow_sigmas(4)
    velocities = torch.randn(4, 3, generator=torch.Generator().manual_seed(6))
    solver = make_solver(name, sigmas)

    def run():
        x = torch.ones(3)
        for v in velocities:
            x = solver.step(v * x, x)  # depends on x so that history matters
        return x

    first = run()
    with pytest.raises(ValueError, match="reset"):
        solver.step(velocities[0], first)
    solver.reset()
    torch.testing.assert_close(run(), first, rtol=0, atol=0)


def test_solver_argument_errors():
    sigmas = flow_sigmas(5)
    with pytest.raises(ValueError, match="unipc, euler"):
        make_solver("dpm++", sigmas)
    assert isinstance(make_solver("euler", sigmas), FlowEulerSolver)
    assert isinstance(make_solver("unipc", sigmas), FlowUniPCSolver)
    with pytest.raises(ValueError):
        FlowUniPCSolver(torch.tensor([1.0, 0.5, 0.0]))  # log-SNR undefined at sigma 1
    with pytest.raises(ValueError):
        FlowEulerSolver(torch.tensor([0.5, 0.6, 0.0]))  # not decreasing
    with pytest.raises(ValueError):
        make_solver("euler", sigmas).step(torch.zeros(3), torch.zeros(4))


# --- the joint loop, with a stand-in model that records what it is given -------------------------


class _RecordingModel(torch.nn.Module):
    """Stands in for TwinDiT: velocities depend on each sample's latents and text (zero text rows change
    nothing, as in TwinDiT, which zero-pads every context), every call is recorded."""

    dtype = torch.float32

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[object, object, tuple[int, ...]]] = []

    def forward(self, video, audio, *, skip_blocks=()):
        self.calls.append((video, audio, tuple(skip_blocks)))
        def text(x):  # one value per sample, broadcast over its latents
            return x.context.sum(dim=(1, 2)).view(-1, *[1] * (x.latents.ndim - 1)) / 100

        return 0.5 * video.latents + text(video), 0.5 * audio.latents + text(audio)


def _streams(frames: int = 4, audio_len: int = 6, **video_kwargs):
    gen = torch.Generator().manual_seed(7)
    video = LatentStream(
        latents=torch.randn(2, 3, frames, 2, 2, generator=gen),
        context_pos=torch.ones(2, 5, 8),
        context_neg=-torch.ones(2, 3, 8),
        **video_kwargs,
    )
    audio = LatentStream(
        latents=torch.randn(2, audio_len, 4, generator=gen),
        context_pos=torch.ones(2, 5, 8),
        context_neg=2 * torch.ones(2, 4, 8),
    )
    return video, audio


def test_loop_runs_two_passes_per_step_with_negative_prompts_and_skipped_blocks():
    model, (video, audio) = _RecordingModel(), _streams()
    sigmas = flow_sigmas(5)
    progress = []
    denoise_joint(
        model,
        video,
        audio,
        sigmas=sigmas,
        guidance=GuidanceConfig(skip_blocks=(1,)),
        callback=lambda done, total: progress.append((done, total)),
    )
    assert progress == [(i, 5) for i in range(1, 6)]
    assert len(model.calls) == 10
    timesteps = timesteps_from_sigmas(sigmas)
    for step in range(5):
        (pos_v, pos_a, pos_skip), (neg_v, neg_a, neg_skip) = model.calls[2 * step : 2 * step + 2]
        assert pos_skip == () and neg_skip == (1,)
        assert torch.equal(pos_v.context, video.context_pos) and torch.equal(pos_a.context, audio.context_pos)
        assert torch.equal(neg_v.context, video.context_neg) and torch.equal(neg_a.context, audio.context_neg)
        # One timestep per sample, the same for both modalities and both passes.
        for inputs in (pos_v, pos_a, neg_v, neg_a):
            assert inputs.timestep.shape == (2,) and (inputs.timestep == timesteps[step]).all()


def test_guidance_off_skips_the_negative_pass_and_equals_plain_sampling():
    sigmas = flow_sigmas(4)
    model, (video, audio) = _RecordingModel(), _streams()
    off = denoise_joint(model, video, audio, sigmas=sigmas, guidance=GuidanceConfig(1.0, 1.0))
    assert len(model.calls) == 4 and all(skip == () for *_, skip in model.calls)
    no_negatives = _RecordingModel()
    plain = denoise_joint(
        no_negatives,
        LatentStream(video.latents, video.context_pos),
        LatentStream(audio.latents, audio.context_pos),
        sigmas=sigmas,
        guidance=GuidanceConfig(),
    )
    assert len(no_negatives.calls) == 4
    for a, b in zip(off, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    guided_run = denoise_joint(_RecordingModel(), video, audio, sigmas=sigmas, guidance=GuidanceConfig())
    assert not torch.allclose(guided_run[0], off[0])


def test_guided_mixes_towards_the_positive_prediction():
    cond, uncond = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    torch.testing.assert_close(guided(cond, uncond, 4.0), torch.tensor([5.0, -3.0]))
    assert guided(cond, uncond, 1.0) is cond
    torch.testing.assert_close(guided(cond, uncond, 0.0), uncond)


def test_clean_prefix_is_held_and_gets_timestep_zero():
    frames = 5
    clean = torch.full((2, 3, frames, 2, 2), 7.0)
    prefix = torch.arange(frames) < 2
    model = _RecordingModel()
    video, audio = _streams(frames=frames, clean=clean, clean_frames=prefix)
    out_video, _ = denoise_joint(
        model, video, audio, sigmas=flow_sigmas(3), guidance=GuidanceConfig(skip_blocks=())
    )
    assert torch.equal(out_video[:, :, :2], clean[:, :, :2])
    assert not torch.equal(out_video[:, :, 2:], clean[:, :, 2:])
    for video_in, audio_in, _ in model.calls:
        passes = video_in.latents.shape[0] // 2  # the positive and negative pass may run as one batch
        held = clean[:, :, :2].repeat(passes, 1, 1, 1, 1)
        assert torch.equal(video_in.latents[:, :, :2], held)  # overwritten before every step
        assert video_in.timestep.shape == (2 * passes, frames)
        assert (video_in.timestep[:, :2] == 0).all() and (video_in.timestep[:, 2:] > 0).all()
        assert audio_in.timestep.shape == (2 * passes,)


def test_fully_clean_audio_conditions_video_without_moving():
    # video-to-audio's mirror: audio given, video generated.
    model, (video, _) = _RecordingModel(), _streams()
    known = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(8))
    audio = LatentStream(
        torch.randn(2, 6, 4),
        torch.ones(2, 5, 8),
        None,
        clean=known,
        clean_frames=torch.ones(6, dtype=torch.bool),
    )
    _, out_audio = denoise_joint(
        model, video, audio, sigmas=flow_sigmas(3), guidance=GuidanceConfig(skip_blocks=())
    )
    assert torch.equal(out_audio, known)
    for _, a, _ in model.calls:  # the positive and negative pass may run as one batch
        assert torch.equal(a.latents, known.repeat(a.latents.shape[0] // 2, 1, 1)) and (a.timestep == 0).all()


def test_start_step_runs_the_tail_of_the_schedule():
    sigmas = flow_sigmas(8)
    model, (video, audio) = _RecordingModel(), _streams()
    progress = []
    denoise_joint(
        model,
        video,
        audio,
        sigmas=sigmas,
        guidance=GuidanceConfig(1.0, 1.0),
        start_step=5,
        callback=lambda done, total: progress.append((done, total)),
    )
    assert progress == [(1, 3), (2, 3), (3, 3)]
    seen = [int(v.timestep[0]) for v, _, _ in model.calls]
    assert seen == timesteps_from_sigmas(sigmas)[5:].tolist()
    with pytest.raises(ValueError, match="start_step"):
        denoise_joint(model, video, audio, sigmas=sigmas, guidance=GuidanceConfig(), start_step=8)


def test_latent_stream_rejects_inconsistent_clean_inputs():
    latents = torch.zeros(1, 3, 4, 2, 2)
    with pytest.raises(ValueError):
        LatentStream(latents, torch.zeros(1, 2, 8), clean=latents)  # mask missing
    with pytest.raises(ValueError):
        LatentStream(
            latents,
            torch.zeros(1, 2, 8),
            clean=torch.zeros(1, 3, 3, 2, 2),
            clean_frames=torch.ones(3, dtype=torch.bool),
        )
    with pytest.raises(ValueError):
        LatentStream(latents, torch.zeros(1, 2, 8), clean=latents, clean_frames=torch.ones(4))
    video = LatentStream(
        latents, torch.zeros(1, 2, 8), clean=latents, clean_frames=torch.ones(3, dtype=torch.bool)
    )
    audio = LatentStream(torch.zeros(1, 6, 4), torch.zeros(1, 2, 8))
    with pytest.raises(ValueError, match="clean_frames"):
        denoise_joint(
            _RecordingModel(), video, audio, sigmas=flow_sigmas(2), guidance=GuidanceConfig(1.0, 1.0)
        )
