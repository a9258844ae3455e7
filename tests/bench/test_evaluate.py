"""The evaluator on single rendered clips: right answers for a true clip, bad scores for broken ones."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.bench.evaluate import SIMULTANEOUS_S, evaluate, merge_close
from duetto.bench.sync import MISS_MS
from duetto.clip import Clip
from duetto.media import write_mp4
from duetto.world import ObjectFacts, SceneFacts, ToyFacts, render
from tests.bench.synth import canvas, draw


@pytest.fixture(scope="module")
def bouncing() -> tuple[SceneFacts, Clip, list[float]]:
    facts = SceneFacts("room", "wind", [ObjectFacts("ball", "red", "big", "rubber", "bounces", "left"),
                                         ObjectFacts("box", "blue", "small", "wood", "slides", "right", "right")])
    result = render(facts, seed=11)
    # Impacts closer than SIMULTANEOUS_S sound as one onset and count once.
    impacts = merge_close(sorted(e["time"] for e in result.truth["events"] if e["kind"] == "impact"), SIMULTANEOUS_S)
    return facts, result.clip, impacts


def test_a_true_clip_scores_near_perfectly_through_mp4(bouncing, tmp_path) -> None:
    facts, clip, impacts = bouncing
    path = write_mp4(clip, tmp_path / "clip.mp4")
    scores = evaluate(path, facts)
    assert [o.seen_motion for o in scores.objects] == ["bounces", "slides"]
    assert scores.attribute_accuracy == 1.0 and scores.motion_accuracy == 1.0
    assert len(scores.visual_impacts) == len(impacts)
    assert np.max(np.abs(np.array(scores.visual_impacts) - impacts)) < 1 / 24
    assert scores.sync_median_ms < 5.0 and scores.sync_within_frame == 1.0
    assert scores.false_sounds == 0
    assert scores.ambience_heard == "wind" and scores.ambience_ok
    assert scores.bounce_heights_decrease is True and scores.physics_residual < 0.005
    assert scores.lip_sync_r is None and scores.identity_match is None  # no toy was asked for


def test_silence_and_a_missing_object_score_badly(bouncing) -> None:
    facts, clip, _ = bouncing
    silent = Clip(clip.frames, np.zeros_like(clip.audio), clip.fps, clip.sample_rate)
    scores = evaluate(silent, facts)
    assert scores.sync_errors_ms == [MISS_MS] * len(scores.visual_impacts)
    assert scores.ambience_heard == "quiet" and not scores.ambience_ok
    wrong = SceneFacts("room", "wind", [ObjectFacts("ball", "green", "big", "rubber", "bounces", "left")])
    missing = evaluate(clip, wrong)
    assert missing.objects[0].found is False and missing.objects[0].seen_motion == "unseen"
    assert missing.attribute_accuracy == 0.0 and missing.motion_accuracy == 0.0


def test_a_talking_toy_is_in_sync_and_recognised() -> None:
    toy = ToyFacts("yellow", "purple", "dots", "low", "buzzy", "center", ["mala", "nopi"])
    facts = SceneFacts("night", "quiet", [], [toy])
    scores = evaluate(render(facts, seed=5).clip, facts)
    assert scores.lip_sync_r > 0.8 and abs(scores.lip_sync_lag_ms) < 30
    (seen,) = scores.toys
    assert seen.found and seen.hat_ok and seen.eyes_ok
    assert seen.heard_pitch_hz == pytest.approx(110.0, rel=0.1) and seen.identity_ok
    assert scores.syllables_prompted == 4 and abs(scores.syllables_heard - 4) <= 1
    summary = scores.summary()
    assert summary["identity_match"] == 1.0 and summary["sync_median_ms"] is None


def test_bad_input_is_a_one_line_value_error(bouncing, tmp_path) -> None:
    facts, clip, _ = bouncing
    with pytest.raises(ValueError, match="no video file"):
        evaluate(tmp_path / "missing.mp4", facts)
    with pytest.raises(ValueError, match="SceneFacts"):
        evaluate(clip, {"setting": "room"})  # type: ignore[arg-type]


def test_a_flickering_smear_of_the_right_colour_is_not_an_object(bouncing) -> None:
    facts, clip, _ = bouncing
    rng = np.random.default_rng(0)
    frames = canvas(96)
    for k in range(96):
        if rng.random() < 0.5:
            draw(frames, k, "ball", rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.6), rng.uniform(0.03, 0.15),
                 (220, 40, 40))
    scores = evaluate(Clip(frames, clip.audio, clip.fps, clip.sample_rate), facts)
    assert scores.objects[0].found is False
