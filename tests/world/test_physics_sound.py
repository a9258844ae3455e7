"""Motion and sound follow the spec: impacts sound at the contact sample, bounces lose e², levels in dBFS."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.world import physics, sounds, vocab
from duetto.world.facts import ObjectFacts, SceneFacts
from duetto.world.render import render
from duetto.world.scene import realize


def _scene(*objects: ObjectFacts, ambience: str = "quiet") -> SceneFacts:
    return SceneFacts("room", ambience, list(objects))


def _mask(frame, colour):
    return np.all(frame == np.array(vocab.COLOURS[colour], dtype=np.uint8), axis=-1)


@pytest.mark.parametrize("rate", [16000, 8000, 44100])
def test_impact_sound_starts_on_the_event_sample(rate):
    ball = ObjectFacts("ball", "red", "small", "wood", "bounces", "center")
    result = render(_scene(ball), width=32, height=32, sample_rate=rate, seed=3)
    audio, impacts = result.clip.audio, [e for e in result.truth["events"] if e["kind"] == "impact"]
    assert len(impacts) >= 3
    first = impacts[0]["sample"]
    assert first == round(impacts[0]["time"] * rate)
    assert np.all(audio[:first] == 0.0) and audio[first] > 0.09  # silent until the contact, full onset on it
    for e in impacts[1:]:
        n = e["sample"]
        jump = audio[n] - audio[n - 1]
        assert jump > 0.09 and jump > 5 * np.abs(np.diff(audio[n - 40 : n])).max()


def test_impact_time_is_the_instant_of_floor_contact():
    ball = ObjectFacts("ball", "red", "big", "rubber", "bounces", "left")
    plan = realize(_scene(ball), np.random.default_rng(0)).objects[0]
    track = physics.track(plan)
    times = np.array([imp.time for imp in track.impacts])
    _, y = track.position(times)
    np.testing.assert_allclose(y + plan.radius, vocab.FLOOR_Y, atol=1e-9)
    _, y_before = track.position(times - 1e-3)
    assert np.all(y_before + plan.radius < vocab.FLOOR_Y)  # it was in the air just before


@pytest.mark.parametrize("material", vocab.MATERIALS)
def test_bounce_heights_shrink_by_e_squared_on_rendered_frames(material):
    e = vocab.RESTITUTION[material]
    ball = ObjectFacts("ball", "white", "small", material, "bounces", "center")
    result = render(_scene(ball), width=40, height=400, fps=240, seconds=3.0, sample_rate=8000, seed=1)
    impacts = [ev["time"] for ev in result.truth["events"] if ev["kind"] == "impact"]
    frames = result.clip.frames

    def top_row(frame):
        return np.nonzero(_mask(frame, "white").any(axis=1))[0].min()

    # Drop height (frame 0 shows the ball at rest at its start), then the top of every arc between contacts.
    tops = [top_row(frames[0])]
    for a, b in zip(impacts[:-1], impacts[1:], strict=True):
        tops.append(min(top_row(f) for f in frames[int(np.ceil(a * 240)) : int(b * 240) + 1]))
    floor_top = round((vocab.FLOOR_Y - 2 * 0.05) * 400)  # top row of the ball resting on the floor
    heights = np.array([floor_top - t for t in tops], dtype=float)
    assert len(heights) >= 2
    tall = heights[heights > 10]  # keep arcs tall enough to measure to a pixel
    assert len(tall) >= 2
    np.testing.assert_allclose(tall[1:] / tall[:-1], e**2, atol=0.03)
    # The ground-truth speeds drop by e at every contact, and the ball stops once bounces fall below 0.01 H.
    plan = result.scene.objects[0]
    speeds = [imp.speed for imp in physics.track(plan).impacts]
    np.testing.assert_allclose(np.array(speeds[1:]) / speeds[:-1], e)
    assert (
        (e * speeds[-1]) ** 2 / (2 * vocab.GRAVITY)
        < vocab.MIN_BOUNCE_HEIGHT
        <= (speeds[-1]) ** 2 / (2 * vocab.GRAVITY)
    )


def test_falls_makes_one_impact_and_rests_none():
    falls = ObjectFacts("box", "red", "big", "wood", "falls", "left")
    rests = ObjectFacts("ball", "blue", "small", "metal", "rests", "right")
    result = render(_scene(falls, rests), width=32, height=32)
    assert [(e["kind"], e["object"]) for e in result.truth["events"]] == [("impact", 0)]
    xy = result.tracks["object_xy"]
    assert np.ptp(xy[1], axis=0).max() == 0.0 and xy[0, -1, 1] == pytest.approx(vocab.FLOOR_Y - 0.09)


def test_slide_hits_the_wall_and_stops_there_with_scrape_then_knock():
    box = ObjectFacts("box", "green", "small", "wood", "slides", "right", "right")
    result = render(_scene(box), width=160, height=90, fps=30, seconds=2.0)
    (impact,) = result.truth["events"]
    assert impact["surface"] == "wall"
    t_hit = impact["time"]
    frame = result.clip.frames[int(np.ceil(t_hit * 30)) + 1]
    cols = np.nonzero(_mask(frame, "green").any(axis=0))[0]
    assert cols.max() == 159  # touching the right wall
    last = result.clip.frames[-1]
    assert np.array_equal(_mask(frame, "green"), _mask(last, "green"))  # and stays there
    audio = result.clip.audio
    n = impact["sample"]
    before = audio[int(0.1 * 16000) : n - 200]
    after = audio[n + int(0.2 * 16000) :]
    assert np.sqrt(np.mean(before**2)) > 0.01 and np.all(after == 0)  # scraping while moving, silent after
    # Friction: the box slows down on the way.
    x = result.tracks["object_xy"][0, :, 0]
    v = np.diff(x)[: int(t_hit * 30) - 1]
    assert v[0] > v[-1] > 0


def test_rolling_ball_rumbles_until_it_leaves_the_canvas():
    ball = ObjectFacts("ball", "red", "big", "rubber", "rolls", "left", "left")
    result = render(_scene(ball), width=128, height=128, seconds=2.0)
    stop = result.truth["objects"][0]["stop_time"]
    audio = result.clip.audio
    moving, gone = audio[: int(stop * 16000)], audio[int((stop + 0.02) * 16000) :]
    assert np.sqrt(np.mean(moving**2)) > 0.03 and np.all(gone == 0)
    spectrum = np.abs(np.fft.rfft(moving)) ** 2
    freqs = np.fft.rfftfreq(len(moving), 1 / 16000)
    assert spectrum[freqs < 400].sum() > 0.9 * spectrum.sum()  # low-pass noise
    assert not _mask(result.clip.frames[-1], "red").any()
    assert result.truth["events"] == []


@pytest.mark.parametrize(
    ("material", "size", "low", "high"),
    [("rubber", "big", 170, 280), ("rubber", "small", 280, 440), ("wood", "big", 650, 750), ("wood", "small", 930, 1030),
     ("metal", "big", 1150, 1250), ("glass", "big", 3150, 3250)],
)  # fmt: skip
def test_impact_pitch_by_material_and_size(material, size, low, high):
    tpl = sounds.impact_template(material, size, 16000)
    spectrum = np.abs(np.fft.rfft(tpl, 1 << 16))
    peak = np.fft.rfftfreq(1 << 16, 1 / 16000)[np.argmax(spectrum)]
    assert low <= peak <= high


def test_impact_decay_times_follow_materials():
    def t60(tpl):  # time until the envelope falls below 1/e³ of its start
        env = np.maximum.accumulate(np.abs(tpl)[::-1])[::-1]
        return np.argmax(env < np.exp(-3)) / 16000

    taus = {m: t60(sounds.impact_template(m, "big", 16000)) / 3 for m in vocab.MATERIALS}
    assert taus["metal"] == pytest.approx(0.25, rel=0.15)
    assert taus["wood"] == pytest.approx(0.025, rel=0.3)
    assert taus["glass"] == pytest.approx(0.06, rel=0.15) and taus["rubber"] == pytest.approx(0.06, rel=0.15)


def test_impact_loudness_is_proportional_to_speed_and_clipped():
    assert sounds.impact_peak(0.8) == pytest.approx(2 * sounds.impact_peak(0.4))
    assert (
        sounds.impact_peak(100.0) == vocab.IMPACT_PEAK_RANGE[1]
        and sounds.impact_peak(0.0) == vocab.IMPACT_PEAK_RANGE[0]
    )


@pytest.mark.parametrize("ambience", ["rain", "wind", "hum"])
@pytest.mark.parametrize("rate", [16000, 44100])
def test_ambience_levels_in_dbfs(ambience, rate):
    audio = render(
        SceneFacts("field", ambience), width=16, height=16, seconds=3.0, sample_rate=rate, seed=2
    ).clip.audio
    level = 20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert level == pytest.approx(vocab.AMBIENCE_DBFS[ambience], abs=0.05)
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / rate)
    if ambience == "hum":
        assert abs(freqs[np.argmax(spectrum)] - 100) < 1
    if ambience == "wind":
        assert spectrum[freqs < 800].sum() > 0.95 * spectrum.sum()
    if ambience == "rain":  # pink: as much energy per octave low as high
        octave = [spectrum[(freqs >= f) & (freqs < 2 * f)].sum() for f in (250, 2000)]
        assert 0.4 < octave[1] / octave[0] < 2.5


def test_quiet_is_silent():
    assert not render(SceneFacts("night", "quiet"), width=16, height=16, seconds=1.0).clip.audio.any()
