"""The liveness checks on synthetic recordings, without a browser: a take that says the right digits and
turns the right way passes with a still and a voice sample; each way of getting it wrong fails its own
check with its own message."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from duetto.characters.liveness import Challenge, RecordingError, recognise_digits, verify
from tests.app.characters import media

DIGITS = "417293"
ASKED = Challenge(DIGITS, "left")


def outcomes(result) -> dict[str, bool]:  # noqa: ANN001 - a liveness Result
    return {check.name: check.passed for check in result.checks}


def test_the_right_digits_and_turn_pass_with_a_still_and_a_voice_sample(takes) -> None:  # noqa: ANN001
    rendered, recording = takes.get(media.Take(DIGITS, "left"))
    result = verify(recording, ASKED)
    assert result.passed, result.summary()
    assert result.heard == DIGITS
    assert result.check("digits").message == "We heard 4 1 7 2 9 3."
    assert result.check("turn").message == "You turned your head to your left."
    assert result.check("sync").measured["r"] > 0.8 and abs(result.check("sync").measured["lag_s"]) < 0.1
    # The still is a square PNG around a face that the detector finds again, facing the camera.
    still = Image.open(io.BytesIO(result.still_png))
    assert still.format == "PNG" and still.width == still.height >= 150
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(cv2.cvtColor(np.asarray(still.convert("RGB")), cv2.COLOR_RGB2GRAY), 1.1, 5)
    assert len(faces) == 1 and faces[0][2] > still.width / 3
    # The voice sample is the reading: as long as the spoken digits (plus a little margin), and loud.
    voice, rate = sf.read(io.BytesIO(result.voice_wav))
    spoken = rendered.speech[1] - rendered.speech[0]
    assert rate == 48000 and spoken - 0.6 < voice.size / rate < spoken + 0.6
    assert np.sqrt(np.mean(voice**2)) > 0.02


def test_wrong_digits_fail_the_digits_check_and_say_what_was_heard(takes) -> None:  # noqa: ANN001
    _, recording = takes.get(media.Take("417298", "left"))
    result = verify(recording, ASKED)
    assert outcomes(result) == {"face": True, "digits": False, "turn": True, "sync": True}
    assert result.failure.name == "digits" and result.heard == "417298"
    assert result.failure.message == "We heard 4 1 7 2 9 8, not 4 1 7 2 9 3. Try again and read each digit clearly."
    assert result.still_png is None and result.voice_wav is None


def test_no_face_fails_the_face_check(takes) -> None:  # noqa: ANN001
    _, recording = takes.get(media.Take(DIGITS, "left", face=False))
    result = verify(recording, ASKED)
    assert result.failure.name == "face"
    assert result.failure.message.startswith("We could not see a face.")
    assert result.check("digits").passed  # the voice alone was fine
    assert not result.check("turn").passed and not result.check("sync").passed


def test_a_face_that_leaves_the_picture_fails_the_face_check(takes) -> None:  # noqa: ANN001
    _, recording = takes.get(media.Take(DIGITS, "left", hidden=(1.5, 4.0)))
    result = verify(recording, ASKED)
    assert result.failure.name == "face"
    assert re.match(r"Your face was out of view for 2\.[4-7] s\. Keep your whole face", result.failure.message)


def test_turning_the_other_way_fails_the_turn_check(takes) -> None:  # noqa: ANN001
    _, recording = takes.get(media.Take(DIGITS, "right"))
    result = verify(recording, ASKED)
    assert outcomes(result) == {"face": True, "digits": True, "turn": False, "sync": True}
    assert result.failure.message == "You turned your head to your right, not your left. Try again and turn to your left."
    # The same recording answers a challenge that asked for the right.
    assert verify(recording, Challenge(DIGITS, "right")).passed


def test_not_turning_fails_the_turn_check(takes) -> None:  # noqa: ANN001
    _, recording = takes.get(media.Take(DIGITS, None))
    result = verify(recording, ASKED)
    assert result.failure.name == "turn" and result.failure.message.startswith("We did not see your head turn.")


@pytest.mark.parametrize("delay", [1.0, 100.0], ids=["dubbed-1s-late", "mouth-never-moves"])
def test_lips_out_of_step_with_the_voice_fail_the_sync_check(takes, delay: float) -> None:  # noqa: ANN001
    _, recording = takes.get(media.Take(DIGITS, "left", mouth_delay_s=delay))
    result = verify(recording, ASKED)
    assert outcomes(result) == {"face": True, "digits": True, "turn": True, "sync": False}
    assert result.failure.message.startswith("Your lips and your voice did not move together.")


# Every digit, in several positions and lengths.
READINGS = ["4172", "90385", "776310", "0000", "58246", "319057", "6628", "11771", "804936", "25209"]


def test_digits_are_recognised_in_every_reading(espeak: str) -> None:
    heard = {digits: recognise_digits(media.speak(digits), media.RATE, len(digits)) for digits in READINGS}
    assert heard == {digits: digits for digits in READINGS}


def test_bad_challenges_and_unreadable_recordings_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 10 digits"):
        Challenge("12a4", "left")
    with pytest.raises(ValueError, match="'left' or 'right'"):
        Challenge("1234", "up")
    with pytest.raises(RecordingError, match="could not be read as a video; record again"):
        verify(b"not a video at all", ASKED)
