"""TwinDiT's x-prediction, its silent start of the cross-modal branch, and the batched guidance passes."""

from __future__ import annotations

import torch

from duetto.engine.models.transformer_twin import ModalityInput, TwinDiT
from duetto.engine.sampling.denoise import LatentStream, denoise_joint
from duetto.engine.sampling.guidance import GuidanceConfig
from duetto.engine.sampling.schedules import flow_sigmas
from duetto.engine.testing import tiny_audio_config, tiny_video_config


def _model(**kwargs) -> TwinDiT:
    torch.manual_seed(0)
    model = TwinDiT(tiny_video_config(in_dim=4, text_dim=8), tiny_audio_config(in_dim=6, text_dim=8), **kwargs)
    for tower in (model.video_model, model.audio_model):  # a trained-looking head, not Ovi's zero init
        torch.nn.init.normal_(tower.head.head.weight, std=0.05)
    return model.eval()


def _inputs(batch: int = 2, timestep: float | torch.Tensor = 400.0):
    gen = torch.Generator().manual_seed(1)
    t = torch.full((batch,), float(timestep)) if not torch.is_tensor(timestep) else timestep
    video = ModalityInput(torch.randn(batch, 4, 3, 4, 4, generator=gen), torch.randn(batch, 5, 8, generator=gen), t)
    audio = ModalityInput(torch.randn(batch, 7, 6, generator=gen), torch.randn(batch, 5, 8, generator=gen), t)
    return video, audio


def test_sample_prediction_returns_the_velocity_of_the_predicted_clean_latents():
    velocity_model, sample_model = _model(), _model(prediction_type="sample")
    sample_model.load_state_dict(velocity_model.state_dict())
    video, audio = _inputs(timestep=400.0)
    with torch.no_grad():
        x0_video, x0_audio = velocity_model(video, audio)  # the same heads: read their output as x̂0
        v_video, v_audio = sample_model(video, audio)
    torch.testing.assert_close(v_video, (video.latents - x0_video) / 0.4, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(v_audio, (audio.latents - x0_audio) / 0.4, rtol=1e-4, atol=1e-5)


def test_sample_prediction_uses_each_frames_own_timestep_and_stays_finite_on_clean_frames():
    model = _model(prediction_type="sample")
    per_frame = torch.tensor([[0.0, 500.0, 500.0]] * 2)
    video, audio = _inputs(timestep=500.0)
    video = ModalityInput(video.latents, video.context, per_frame)
    with torch.no_grad():
        v_video, _ = model(video, audio)
    assert torch.isfinite(v_video).all()
    assert v_video[:, :, 0].abs().mean() > v_video[:, :, 1:].abs().mean()  # σ floored at 0.05 on the clean frame


def test_silent_fusion_start_makes_each_tower_ignore_the_other():
    model = _model()
    model.zero_fusion_values()
    video, audio = _inputs()
    other_audio = ModalityInput(audio.latents + 5.0, audio.context, audio.timestep)
    with torch.no_grad():
        torch.testing.assert_close(model(video, audio)[0], model(video, other_audio)[0])
    fused = _model()  # with Ovi's start the video tower does hear the audio
    with torch.no_grad():
        assert not torch.allclose(fused(video, audio)[0], fused(video, other_audio)[0])


def test_batched_guidance_passes_match_two_separate_passes():
    model, (video, audio) = _model(prediction_type="sample"), _inputs(batch=1)
    negative = torch.zeros(1, 2, 8)
    streams = (LatentStream(video.latents, video.context, negative), LatentStream(audio.latents, audio.context, negative))
    guidance = GuidanceConfig(3.0, 2.0, ())
    batched = denoise_joint(model, *streams, sigmas=flow_sigmas(3), guidance=guidance)
    separate = denoise_joint(_Unbatched(model), *streams, sigmas=flow_sigmas(3), guidance=guidance)
    for a, b in zip(batched, separate, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


class _Unbatched(torch.nn.Module):
    """Runs each sample of a batch through the model on its own."""

    def __init__(self, model: TwinDiT) -> None:
        super().__init__()
        self.model, self.dtype = model, model.dtype

    def forward(self, video, audio, *, skip_blocks=()):
        outs = [self.model(*(ModalityInput(x.latents[i:i + 1], x.context[i:i + 1], x.timestep[i:i + 1])
                             for x in (video, audio)), skip_blocks=skip_blocks) for i in range(video.latents.shape[0])]
        return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])
