"""TwinDiT against the reference Ovi fusion model (parity fixtures), and the model's own contract."""

from __future__ import annotations

import copy
import json
import re

import pytest
import torch
from safetensors.torch import load_file

from duetto.engine.attention import BACKEND_ENV_VAR, attention, resolve_backend
from duetto.engine.models.transformer_twin import ModalityInput, TwinDiT

REL_TOL = 1e-4  # ||ours - ref|| / ||ref||
ABS_TOL = 5e-5  # max |ours - ref|; the fixtures README measures float32 rounding at ~3e-6 (outputs)
FUSION_PARTS = ("k_fusion", "v_fusion", "pre_attn_norm_fusion", "norm_k_fusion")

# Ovi's released video.json / audio.json (research notes, section 2.1).
OVI_VIDEO = {
    "patch_size": [1, 2, 2],
    "model_type": "ti2v",
    "in_dim": 48,
    "out_dim": 48,
    "dim": 3072,
    "ffn_dim": 14336,
    "freq_dim": 256,
    "num_heads": 24,
    "num_layers": 30,
    "text_len": 512,
    "text_dim": 4096,
    "window_size": [-1, -1],
    "qk_norm": True,
    "cross_attn_norm": True,
    "eps": 1e-6,
}
OVI_AUDIO = {
    **OVI_VIDEO,
    "patch_size": [1],
    "model_type": "t2a",
    "in_dim": 20,
    "out_dim": 20,
    "temporal_rope_scaling_factor": 0.19676,
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny models here gain nothing from intra-op threads and lose a lot on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def config(ovi_fixtures):
    return json.loads((ovi_fixtures / "fusion_tiny_config.json").read_text())


@pytest.fixture(scope="module")
def weights(ovi_fixtures):
    return load_file(ovi_fixtures / "fusion_tiny_weights.safetensors")


@pytest.fixture(scope="module")
def reference(ovi_fixtures):
    return load_file(ovi_fixtures / "fusion_forward.safetensors")


@pytest.fixture(scope="module")
def model(config, weights):
    model = TwinDiT(config["video_config"], config["audio_config"])
    model.load_state_dict(weights, strict=True)
    return model.eval()


def case_inputs(config, reference, case):
    """The reference call of one forward case, as (video, audio, skip_blocks)."""
    spec = config["forward_cases"][case]
    video_latents = reference["input.video_latent"][None]
    timestep = reference["input.timestep"]
    video_timestep = timestep
    if spec["first_frame_is_clean"]:
        video_timestep = timestep.repeat(1, video_latents.shape[2])  # (1, F)
        video_timestep[:, 0] = 0
    # The reference skips block i only when slg_layer > 0 (false and 0 skip nothing).
    skip = (int(spec["slg_layer"]),) if spec["slg_layer"] > 0 else ()
    video = ModalityInput(video_latents, reference[spec["video_context"]][None], video_timestep)
    audio = ModalityInput(
        reference["input.audio_latent"][None], reference[spec["audio_context"]][None], timestep
    )
    return video, audio, skip


def assert_close(ours, ref, name, rel_tol=REL_TOL, abs_tol=ABS_TOL):
    assert ours.shape == ref.shape, f"{name}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
    ours = ours.float()
    rel = ((ours - ref).norm() / ref.norm()).item()
    worst = (ours - ref).abs().max().item()
    assert rel <= rel_tol and worst <= abs_tol, f"{name}: relative error {rel:.2e}, max abs error {worst:.2e}"


def per_token(groups, tokens):
    """(B, G, ...) per-group conditioning -> (B, tokens, ...) per token, as the reference stores it."""
    return groups.repeat_interleave(tokens // groups.shape[1], dim=1)


# --------------------------------------------------------------------------------------------------
# Parity


def test_fixture_weights_load_strictly_with_ovi_names_and_shapes(model, config):
    expected = config["state_dict"]
    ours = {key: list(t.shape) for key, t in model.state_dict().items()}
    assert ours == expected["keys"]
    assert len(ours) == expected["num_tensors"]
    assert sum(p.numel() for p in model.parameters()) == expected["num_parameters"]


@pytest.mark.parametrize("case", ["cond", "slg", "i2v", "i2v_slg"])
def test_forward_matches_ovi(model, config, reference, case):
    video, audio, skip = case_inputs(config, reference, case)
    with torch.no_grad():
        video_velocity, audio_velocity = model(video, audio, skip_blocks=skip)
    assert_close(video_velocity[0], reference[f"output.{case}.video_velocity"], f"{case} video")
    assert_close(audio_velocity[0], reference[f"output.{case}.audio_velocity"], f"{case} audio")


def run_with_intermediates(model, video, audio, skip):
    """Run the model step by step and collect the tensors the fixtures keep, named as they are there."""
    found, handles = {}, []

    def keep(name, transform=lambda out, _: out):
        def hook(_module, _args, output):
            found[name] = transform(output, found)

        return hook

    for tower in ("video", "audio"):
        module = getattr(model, f"{tower}_model")
        handles += [
            module.patch_embedding.register_forward_hook(keep(f"{tower}.embedded_tokens")),
            module.text_embedding.register_forward_hook(keep(f"{tower}.context_embedded")),
            module.time_embedding.register_forward_hook(
                keep(
                    f"{tower}.time_e",
                    lambda out, f, t=tower: per_token(out, f[f"{t}.embedded_tokens"].shape[1]),
                )
            ),
            module.time_projection.register_forward_hook(
                keep(
                    f"{tower}.time_e0",
                    lambda out, f, t=tower, m=module: per_token(
                        out.unflatten(-1, (6, m.dim)), f[f"{t}.embedded_tokens"].shape[1]
                    ),
                )
            ),
        ]
        for index, block in enumerate(module.blocks):
            handles += [
                block.self_attn.register_forward_hook(keep(f"{tower}.block{index}.self_attn_out")),
                block.cross_attn.register_forward_hook(keep(f"{tower}.block{index}.fused_cross_attn_out")),
            ]
    try:
        with torch.no_grad():
            video_state, audio_state = model.embed(video, audio)
            for index in range(model.num_layers):
                if index in skip:
                    continue
                video_state, audio_state = model.fused_block(index, video_state, audio_state)
                found[f"video.after_block{index}"] = video_state.tokens
                found[f"audio.after_block{index}"] = audio_state.tokens
            found["video.output"], found["audio.output"] = model.unembed(video_state, audio_state)
    finally:
        for handle in handles:
            handle.remove()
    return {name: tensor[0] for name, tensor in found.items()}


def test_debug_intermediates_match_ovi(model, config, reference):
    """Every debug tensor in the fixtures, so that a parity failure points at the broken part."""
    cases = sorted({key.split(".")[1] for key in reference if key.startswith("debug.")})
    assert cases, "the fixtures hold no debug tensors"
    checked = 0
    for case in cases:
        video, audio, skip = case_inputs(config, reference, case)
        ours = run_with_intermediates(model, video, audio, skip)
        prefix = f"debug.{case}."
        # Stepping through embed / fused_block / unembed gives the same result as forward.
        assert_close(
            ours["video.output"], reference[f"output.{case}.video_velocity"], f"{case} video stepwise"
        )
        assert_close(
            ours["audio.output"], reference[f"output.{case}.audio_velocity"], f"{case} audio stepwise"
        )
        for key in sorted(k for k in reference if k.startswith(prefix)):
            name = key[len(prefix) :]
            assert name in ours, f"no intermediate {name} for {key}"
            assert_close(ours[name], reference[key], key)
            checked += 1
    assert checked == sum(1 for key in reference if key.startswith("debug."))


def test_first_clean_frame_conditions_only_its_tokens(model, config, reference):
    video, audio, _ = case_inputs(config, reference, "i2v")
    with torch.no_grad():
        state, _ = model.embed(video, audio)
    tokens_per_frame = state.tokens.shape[1] // video.latents.shape[2]
    time_e = per_token(state.time, state.tokens.shape[1])[0]
    assert not torch.allclose(time_e[0], time_e[tokens_per_frame])
    torch.testing.assert_close(time_e[tokens_per_frame], time_e[-1])
    assert_close(time_e, reference["debug.i2v.video.time_e"], "i2v time_e")


# --------------------------------------------------------------------------------------------------
# Contract


def test_without_fusion_towers_share_only_the_text(config, weights, reference):
    model = TwinDiT(config["video_config"], config["audio_config"], fusion=False).eval()
    keys = set(model.state_dict())
    assert not any(part in key for key in keys for part in FUSION_PARTS)
    assert keys == {key for key in weights if not any(part in key for part in FUSION_PARTS)}
    model.load_state_dict({key: weights[key] for key in keys}, strict=True)

    video, audio, _ = case_inputs(config, reference, "cond")
    other_audio = ModalityInput(audio.latents.flip(1), audio.context, audio.timestep)
    with torch.no_grad():
        video_a, audio_a = model(video, audio)
        video_b, _ = model(video, other_audio)
    assert video_a.shape == reference["output.cond.video_velocity"][None].shape
    assert audio_a.shape == reference["output.cond.audio_velocity"][None].shape
    assert torch.equal(video_a, video_b)  # the video tower never sees the audio


def test_with_fusion_video_reads_the_audio(model, config, reference):
    video, audio, _ = case_inputs(config, reference, "cond")
    other_audio = ModalityInput(audio.latents.flip(1), audio.context, audio.timestep)
    with torch.no_grad():
        video_a, _ = model(video, audio)
        video_b, _ = model(video, other_audio)
    assert (video_a - video_b).abs().max() > 1e-3


def test_full_ovi_config_on_meta_has_ovi_parameter_count():
    with torch.device("meta"):
        model = TwinDiT(OVI_VIDEO, OVI_AUDIO)
    state = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == 11_660_753_108
    assert len(state) == 2073
    assert sum(key.startswith("video_model.") for key in state) == 1035
    assert tuple(state["audio_model.patch_embedding.2.w1.weight"].shape) == (8192, 3072, 7)
    assert tuple(state["video_model.blocks.29.modulation.modulation"].shape) == (1, 6, 3072)


def test_bf16_runs_close_to_float32_reference(model, config, reference):
    half = copy.deepcopy(model).to(torch.bfloat16)
    video, audio, skip = case_inputs(config, reference, "i2v_slg")
    with torch.no_grad():
        video_velocity, audio_velocity = half(video, audio, skip_blocks=skip)
    assert video_velocity.dtype == audio_velocity.dtype == torch.bfloat16
    # bf16 does not match at float32 tolerances; the fixtures README suggests ~1e-2 relative.
    assert_close(video_velocity[0], reference["output.i2v_slg.video_velocity"], "bf16 video", 5e-2, 1.0)
    assert_close(audio_velocity[0], reference["output.i2v_slg.audio_velocity"], "bf16 audio", 5e-2, 1.0)


def test_batch_of_two_equals_two_single_calls(model, config, reference):
    first_video, first_audio, _ = case_inputs(config, reference, "i2v")
    second_video, second_audio, _ = case_inputs(config, reference, "slg")
    frames = first_video.latents.shape[2]
    second_video = ModalityInput(
        second_video.latents.flip(-1), second_video.context, torch.full((1, frames), 500)
    )
    second_audio = ModalityInput(second_audio.latents.flip(1), second_audio.context, torch.tensor([500]))

    def stack(a, b):
        # Contexts of different lengths are zero-padded to the longer one, as the model pads them anyway.
        rows = max(a.context.shape[1], b.context.shape[1])
        contexts = [torch.nn.functional.pad(c, (0, 0, 0, rows - c.shape[1])) for c in (a.context, b.context)]
        return ModalityInput(
            torch.cat([a.latents, b.latents]), torch.cat(contexts), torch.cat([a.timestep, b.timestep])
        )

    with torch.no_grad():
        batch = model(stack(first_video, second_video), stack(first_audio, second_audio))
        singles = [model(first_video, first_audio), model(second_video, second_audio)]
    for tower in range(2):
        for sample in range(2):
            torch.testing.assert_close(batch[tower][sample], singles[sample][tower][0], rtol=1e-5, atol=1e-5)


def test_per_frame_timesteps_with_equal_values_match_one_per_sample(model, config, reference):
    video, audio, _ = case_inputs(config, reference, "cond")
    frames, tokens = video.latents.shape[2], audio.latents.shape[1]
    t = video.timestep
    with torch.no_grad():
        expected = model(video, audio)
        got = model(
            ModalityInput(video.latents, video.context, t.repeat(1, frames)),
            ModalityInput(audio.latents, audio.context, t.float().repeat(1, tokens)),
        )
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_save_pretrained_round_trip(model, config, reference, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = TwinDiT.from_pretrained(tmp_path).eval()
    assert loaded.config.video_config == model.config.video_config
    assert loaded.config.fusion is True
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key
    video, audio, skip = case_inputs(config, reference, "i2v_slg")
    # The weights are checked bit for bit above; the outputs only to float32 rounding, since two runs of the
    # same weights may sum in another order (the thread count changes it, e.g. on a busy machine: 1.4e-6).
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(video, audio, skip_blocks=skip), model(video, audio, skip_blocks=skip), rtol=1e-5, atol=1e-5
        )


def test_gradient_checkpointing_recomputes_blocks_with_equal_gradients(model, config, reference):
    video, audio, skip = case_inputs(config, reference, "slg")
    calls = []

    def checkpoint(function, *args):
        calls.append(function)
        return torch.utils.checkpoint.checkpoint(function, *args, use_reentrant=False)

    def gradients(net):
        net.zero_grad()
        video_velocity, audio_velocity = net(video, audio, skip_blocks=skip)
        (video_velocity.square().mean() + audio_velocity.square().mean()).backward()
        # The skipped block gets no gradient at all.
        return {name: p.grad for name, p in net.named_parameters() if p.grad is not None}

    plain = copy.deepcopy(model).train()
    checkpointed = copy.deepcopy(model).train()
    checkpointed.enable_gradient_checkpointing(gradient_checkpointing_func=checkpoint)
    expected, got = gradients(plain), gradients(checkpointed)
    assert len(calls) == model.num_layers - len(skip)
    assert got.keys() == expected.keys()
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_fresh_model_starts_at_zero_velocity_and_learns(config, reference):
    torch.manual_seed(0)
    model = TwinDiT(config["video_config"], config["audio_config"])
    video, audio, _ = case_inputs(config, reference, "cond")
    with torch.no_grad():
        video_velocity, audio_velocity = model(video, audio)
    assert not video_velocity.any() and not audio_velocity.any()  # Ovi zero-initialises the heads

    # The video tower's fusion projections start ten times smaller than the audio tower's.
    ratio = (
        model.video_model.blocks[0].cross_attn.k_fusion.weight.std()
        / model.audio_model.blocks[0].cross_attn.k_fusion.weight.std()
    )
    assert 0.07 < ratio.item() < 0.14

    target_video, target_audio = torch.randn_like(video_velocity), torch.randn_like(audio_velocity)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        video_velocity, audio_velocity = model(video, audio)
        loss = (video_velocity - target_video).square().mean() + (
            audio_velocity - target_audio
        ).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


# --------------------------------------------------------------------------------------------------
# Edge validation


def _changed(config, tower, **values):
    video, audio = dict(config["video_config"]), dict(config["audio_config"])
    (video if tower == "video" else audio).update(values)
    return video, audio


@pytest.mark.parametrize(
    ("tower", "values"),
    [
        ("video", {"qk_norm": False}),
        ("audio", {"cross_attn_norm": False}),
        ("video", {"window_size": [4, 4]}),
        ("audio", {"num_layers": 1}),
        ("video", {"model_type": "i2v"}),
        ("audio", {"patch_size": [2]}),
        ("video", {"flash": True}),
        ("video", {"temporal_rope_scaling_factor": 0.5}),
    ],
)
def test_unsupported_configs_are_refused(config, tower, values):
    with pytest.raises(ValueError):
        TwinDiT(*_changed(config, tower, **values))


def test_bad_inputs_are_refused_with_value_errors(model, config, reference):
    video, audio, _ = case_inputs(config, reference, "cond")
    text_len = config["video_config"]["text_len"]
    too_long = torch.zeros(1, text_len + 1, video.context.shape[2])
    bad_calls = [
        (ModalityInput(video.latents, too_long, video.timestep), audio, ()),
        (ModalityInput(video.latents[:, 1:], video.context, video.timestep), audio, ()),
        (
            ModalityInput(
                video.latents.repeat(2, 1, 1, 1, 1), video.context.repeat(2, 1, 1), video.timestep.repeat(2)
            ),
            audio,
            (),
        ),
        (video, ModalityInput(audio.latents, audio.context, torch.zeros(1, audio.latents.shape[1] + 1)), ()),
        (video, audio, (model.num_layers,)),
    ]
    for bad_video, bad_audio, skip in bad_calls:
        with pytest.raises(ValueError):
            model(bad_video, bad_audio, skip_blocks=skip)


# --------------------------------------------------------------------------------------------------
# Attention entry point


def test_attention_is_softmax_attention_in_bshd_layout():
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, n, 3, 8, generator=generator) for n in (5, 7, 7))
    weights = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q, k) / 8**0.5, dim=-1)
    expected = torch.einsum("bhqk,bkhd->bqhd", weights, v)
    torch.testing.assert_close(attention(q, k, v), expected, rtol=1e-5, atol=1e-6)


def test_attention_backend_choice(monkeypatch):
    q = torch.randn(1, 4, 2, 8)
    assert resolve_backend(q) == "sdpa"  # no FlashAttention 3 for float32 CPU tensors
    with pytest.raises(ValueError, match="flash3"):
        attention(q, q, q, backend="flash3")
    monkeypatch.setenv(BACKEND_ENV_VAR, "nonsense")
    with pytest.raises(ValueError, match=re.escape("nonsense")):
        attention(q, q, q)
    monkeypatch.setenv(BACKEND_ENV_VAR, "sdpa")
    assert resolve_backend(q) == "sdpa"
