"""Payload coding, keyed randomness and the false-alarm bound behind every "found"."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.provenance.codes import (
    CODE_BITS,
    CRC_BITS,
    PAYLOAD_BITS,
    decode_bits,
    false_alarm_bound,
    keyed_rng,
    make_detection,
    payload_bits,
    statistic_tail,
)


@pytest.mark.parametrize("payload", [0, 1, 0xDEADBEEF, 2**32 - 1])
def test_payload_round_trips_with_a_valid_crc(payload: int) -> None:
    bits = payload_bits(payload)
    assert bits.shape == (CODE_BITS,) and set(np.unique(bits)) <= {0, 1}
    assert decode_bits(bits) == (payload, True)


def test_any_single_or_double_bit_flip_breaks_the_crc() -> None:
    bits = payload_bits(123456789)
    for i in range(CODE_BITS):
        for j in range(i, CODE_BITS):
            flipped = bits.copy()
            flipped[i] ^= 1
            if j != i:
                flipped[j] ^= 1
            assert decode_bits(flipped)[1] is False


def test_random_words_pass_the_crc_about_once_in_65536() -> None:
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2, (40_000, CODE_BITS))
    passes = sum(decode_bits(word)[1] for word in words)
    assert passes <= 5  # expectation 0.61; a CRC that let more through would weaken the bound


@pytest.mark.parametrize("payload", [-1, 2**PAYLOAD_BITS, 1.5, True, "7"])
def test_bad_payloads_are_refused(payload: object) -> None:
    with pytest.raises(ValueError, match="payload"):
        payload_bits(payload)  # type: ignore[arg-type]


def test_keyed_randomness_depends_on_key_and_purpose_only() -> None:
    a = keyed_rng(b"secret", "duetto.x").random(4)
    assert np.array_equal(a, keyed_rng("secret", "duetto.x").random(4))
    assert not np.array_equal(a, keyed_rng(b"secret", "duetto.y").random(4))
    assert not np.array_equal(a, keyed_rng(b"other", "duetto.x").random(4))
    with pytest.raises(ValueError, match="empty"):
        keyed_rng(b"", "duetto.x")


def test_chernoff_bound_holds_for_unmarked_soft_values() -> None:
    # Without a mark each soft value is cos(2 pi U); the bound must sit above the empirical tail.
    rng = np.random.default_rng(1)
    sums = np.abs(np.cos(2 * np.pi * rng.random((200_000, CODE_BITS)))).sum(axis=1)
    for level in (32.0, 34.0, 36.0):
        empirical = np.mean(sums >= level)
        soft = np.full(CODE_BITS, level / CODE_BITS)
        assert statistic_tail(soft) >= empirical
    assert statistic_tail(np.full(CODE_BITS, 0.5)) == 1.0
    assert statistic_tail(np.ones(CODE_BITS)) < 1e-20


def test_bound_grows_with_the_search_and_includes_the_crc() -> None:
    soft = np.full(CODE_BITS, 0.9)
    assert false_alarm_bound(soft, 10) == pytest.approx(10 * false_alarm_bound(soft, 1))
    assert false_alarm_bound(soft, 1) == pytest.approx(statistic_tail(soft) * 2.0**-CRC_BITS)


def test_detection_reports_payload_only_when_confident() -> None:
    bits = payload_bits(77)
    strong = make_detection(np.where(bits == 0, 0.98, -0.98), 1, {})
    assert strong.found and strong.payload == 77 and strong.confidence > 1 - 1e-8
    assert strong.bit_accuracy_vs(77) == 1.0 and strong.bit_accuracy_vs(76) < 1.0
    weak = make_detection(np.where(bits == 0, 0.7, -0.7), 1, {})
    assert not weak.found and weak.payload is None and weak.guess == 77
    wrong = bits.copy()
    wrong[3] ^= 1
    broken = make_detection(np.where(wrong == 0, 0.99, -0.99), 1, {})
    assert not broken.found and broken.false_alarm == 1.0
