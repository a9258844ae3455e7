"""The payload both invisible marks carry, its CRC, keyed randomness and the false-alarm bound of a detection."""

from __future__ import annotations

import binascii
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

#: Bits of clip id a mark carries (the app's integer video sequence number fits).
PAYLOAD_BITS = 32
#: CRC-16/CCITT over the payload, so a random bit pattern passes with probability 2**-16.
CRC_BITS = 16
#: Bits embedded: payload then CRC.
CODE_BITS = PAYLOAD_BITS + CRC_BITS
#: A detection is reported as found only when its false-alarm bound (statistic, search and CRC together) is
#: at most this; see `false_alarm_bound`.
FALSE_ALARM = 1e-8

Key = bytes | str


def key_bytes(key: Key) -> bytes:
    """The instance secret as bytes; an empty key is refused because every instance would share it."""
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not data:
        raise ValueError("the watermark key is empty; pass the instance secret")
    return data


def keyed_rng(key: Key, purpose: str) -> np.random.Generator:
    """A random generator seeded from the key and a purpose label, so each use gets independent numbers."""
    digest = hashlib.blake2b(key_bytes(key), digest_size=32, person=purpose.encode("ascii")[:16]).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def payload_bits(payload: int) -> np.ndarray:
    """The 48 bits to embed for `payload` (0 <= payload < 2**32): 32 payload bits then 16 CRC bits, MSB first."""
    if isinstance(payload, bool) or not isinstance(payload, int | np.integer):
        raise ValueError(f"payload must be an integer clip id, got {type(payload).__name__}")
    if not 0 <= int(payload) < 2**PAYLOAD_BITS:
        raise ValueError(f"payload must be between 0 and 2**{PAYLOAD_BITS} - 1, got {payload}")
    data = int(payload).to_bytes(PAYLOAD_BITS // 8, "big")
    crc = binascii.crc_hqx(data, 0xFFFF)
    word = (int(payload) << CRC_BITS) | crc
    return np.array([(word >> (CODE_BITS - 1 - i)) & 1 for i in range(CODE_BITS)], dtype=np.int8)


def decode_bits(bits: np.ndarray) -> tuple[int, bool]:
    """The payload in a 48-bit word and whether its CRC matches."""
    word = 0
    for bit in np.asarray(bits, dtype=np.int64).ravel()[:CODE_BITS]:
        word = (word << 1) | int(bit)
    payload, crc = word >> CRC_BITS, word & ((1 << CRC_BITS) - 1)
    return payload, binascii.crc_hqx(payload.to_bytes(PAYLOAD_BITS // 8, "big"), 0xFFFF) == crc


def _log_mgf_abs_cos(lam: float) -> float:
    """log E[exp(lam * |cos(2 pi U)|)] for U uniform: log(I0(lam) + L0(lam)) (modified Bessel and Struve)."""
    return math.log(special.i0(lam) + special.modstruve(0, lam))


def statistic_tail(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Chernoff bound on P(sum_j w_j sum_k |v_jk| >= observed) for an unmarked input.

    `values` (groups, bits) are cos(2 pi r) per bit, r being where a projection falls on its keyed,
    dithered lattice, or averages of such values; `weights` (groups,) default to ones. Without a mark
    the keyed dither makes every r uniform whatever the content, and independent across bits and across
    groups that use different dithers (the audio periods). An average of values sharing one dither
    (the video frames) is a single group: |mean| <= mean of |cos| in convex order (Jensen), so the
    moment generating function of one |cos(2 pi U)| still bounds it, even for a static scene.
    """
    values = np.abs(np.atleast_2d(np.asarray(values, dtype=np.float64)))
    w = np.ones(values.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    n = values.shape[1]
    total = float(w @ values.sum(axis=1))
    if values.size == 0 or total <= n * float(w.sum()) * 2 / math.pi:  # at or below the null mean
        return 1.0
    result = optimize.minimize_scalar(
        lambda lam: -lam * total + n * sum(_log_mgf_abs_cos(lam * wj) for wj in w if wj > 0),
        bounds=(0.0, 600.0 / max(float(w.max()), 1e-9)), method="bounded")
    return float(min(1.0, math.exp(min(0.0, result.fun))))


def false_alarm_bound(values: np.ndarray, candidates: int, weights: np.ndarray | None = None) -> float:
    """Upper bound on the chance that an unmarked input gives a detection this strong that also passes the CRC.

    Union bound over the `candidates` alignments, phases or gains the detector tried; without a mark the
    decoded bits are uniform and independent of the |values| (cos(2 pi U) has a sign independent of its
    size), so a CRC pass has probability 2**-16 on its own.
    """
    return min(1.0, candidates * statistic_tail(values, weights) * 2.0**-CRC_BITS)


@dataclass(frozen=True)
class Detection:
    """What an invisible-mark detector found.

    Attributes:
        found: the CRC matched and `false_alarm` is at most `FALSE_ALARM`.
        payload: the clip id when found, else None.
        confidence: 1 - false_alarm.
        false_alarm: bound on the probability that an unmarked input looks this marked (see
            `false_alarm_bound`); 1.0 when the CRC fails.
        guess: the best-guess payload even when not found (for bit-accuracy measurements).
        bits: the 48 decoded bits (payload then CRC).
        strength: mean |soft value| over bits: about 0.64 for unmarked input, near 1 for a clean mark.
        details: detector-specific facts (gain, offset, frames or periods used).
    """

    found: bool
    payload: int | None
    confidence: float
    false_alarm: float
    guess: int
    bits: tuple[int, ...]
    strength: float
    details: dict[str, float | int] = field(default_factory=dict)

    def bit_accuracy_vs(self, payload: int) -> float:
        """Fraction of the 32 payload bits that match `payload` (0.5 is chance)."""
        truth = payload_bits(payload)[:PAYLOAD_BITS]
        return float(np.mean(np.asarray(self.bits[:PAYLOAD_BITS]) == truth))

    @property
    def crc_ok(self) -> bool:
        """The decoded bits pass the CRC (true for one unmarked input in 65536; `found` needs more)."""
        return self.false_alarm < 1.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready facts; a CRC-valid guess is included even when not found, as a lead to check
        against other evidence (a fingerprint match of that clip, say)."""
        return {"found": self.found, "payload": self.payload, "confidence": self.confidence,
                "false_alarm": self.false_alarm, "strength": self.strength,
                "guess": self.guess if self.crc_ok else None, **self.details}


def make_detection(soft: np.ndarray, candidates: int, details: dict[str, float | int],
                   groups: np.ndarray | None = None, weights: np.ndarray | None = None) -> Detection:
    """Turn averaged soft values (positive means bit 0) into a Detection with its false-alarm bound.

    The bound uses `groups` (per-group soft values with independent dithers) and their `weights` when
    given, else the averaged values as one group.
    """
    soft = np.asarray(soft, dtype=np.float64)
    bits = (soft < 0).astype(np.int8)
    guess, crc_ok = decode_bits(bits)
    evidence = soft if groups is None else groups
    bound = false_alarm_bound(evidence, candidates, weights) if crc_ok else 1.0
    found = crc_ok and bound <= FALSE_ALARM
    return Detection(found=found, payload=guess if found else None, confidence=1.0 - bound,
                     false_alarm=bound, guess=guess, bits=tuple(int(b) for b in bits),
                     strength=float(np.mean(np.abs(soft))) if soft.size else 0.0, details=details)


def not_found(details: dict[str, float | int]) -> Detection:
    """The Detection for input too short or too quiet to hold a mark."""
    return Detection(found=False, payload=None, confidence=0.0, false_alarm=1.0, guess=0,
                     bits=(0,) * CODE_BITS, strength=0.0, details=details)
