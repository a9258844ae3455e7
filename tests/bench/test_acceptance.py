"""The evaluator's acceptance: 64 held-out ground-truth renders through MP4 score near-perfectly, and the
same clips with each soundtrack moved to another clip's picture lose impact sync and lip sync.

128×128, 24 fps, 4 s, 16 kHz, H.264 + AAC. Impact sync pools all visual impacts; one without an audio
onset within `sync.MATCH_WINDOW_S` counts as `sync.MISS_MS` (1 s), so a shuffled soundtrack cannot
hide behind the few onsets it happens to place near an impact.
"""

from __future__ import annotations

import pytest

from duetto.bench.evaluate import AudioAnalysis, VideoAnalysis, analyse_audio, analyse_video, load_clip, score
from duetto.bench.report import aggregate
from duetto.bench.runner import BenchPrompt, held_out_prompts, reference_generator
from duetto.media import write_mp4

N_CLIPS = 64


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> tuple[list[BenchPrompt], list[VideoAnalysis], list[AudioAnalysis]]:
    folder = tmp_path_factory.mktemp("acceptance")
    prompts = held_out_prompts(N_CLIPS, seed=0)
    generate = reference_generator(size=(128, 128), fps=24.0, seconds=4.0, sample_rate=16000)
    videos, audios = [], []
    for prompt in prompts:
        clip = load_clip(write_mp4(generate(prompt), folder / "clip.mp4"))
        videos.append(analyse_video(clip.frames, clip.fps, prompt.facts))
        audios.append(analyse_audio(clip.audio, clip.sample_rate))
    return prompts, videos, audios


@pytest.mark.slow
def test_ground_truth_renders_score_near_perfectly(analysed) -> None:
    prompts, videos, audios = analysed
    measures, counts = aggregate([score(v, a, p.facts) for p, v, a in zip(prompts, videos, audios, strict=True)])
    assert counts["impacts"] >= 80 and counts["lip_sync_clips"] >= 10  # the sample exercises every measure
    assert measures["impact_sync_median_ms"] <= 5.0
    assert measures["impacts_within_frame"] >= 0.98
    assert measures["attribute_accuracy"] >= 0.98
    assert measures["motion_accuracy"] >= 0.98
    assert measures["ambience_accuracy"] >= 0.95
    assert measures["lip_sync_r"] >= 0.8
    assert measures["false_sounds_per_clip"] <= 0.1


@pytest.mark.slow
def test_shuffled_soundtracks_lose_sync(analysed) -> None:
    prompts, videos, audios = analysed
    shifted = audios[1:] + audios[:1]  # each picture gets the next clip's soundtrack
    measures, _ = aggregate([score(v, a, p.facts) for p, v, a in zip(prompts, videos, shifted, strict=True)])
    assert measures["impact_sync_median_ms"] > 100.0
    assert measures["lip_sync_r"] < 0.2
