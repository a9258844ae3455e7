"""How reliable the enrollment checks are on synthetic takes: random challenges, each read by espeak-ng.

Two measures. *Digits*: the recogniser alone on the speech of N random 4-6 digit challenges (the share
heard exactly). *Takes*: M random challenges rendered as whole recordings (the test face, WebM with VP8
and Opus like a browser makes) in four variants each: the right take must pass, and wrong digits, no
face and the wrong turn must each fail their own check. Prints the counts and the CPU seconds per check;
exits 1 if anything was misjudged. Needs espeak-ng and scikit-image (the test extra).

    python benchmarks/enroll_liveness.py                  # 60 readings, 6 challenges x 4 variants
    python benchmarks/enroll_liveness.py --digits 200 --takes 0
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.app.characters import media  # noqa: E402

from duetto.characters.liveness import Challenge, recognise_digits, verify  # noqa: E402


def random_challenge(rng: random.Random) -> Challenge:
    return Challenge("".join(rng.choice("0123456789") for _ in range(rng.randint(4, 6))), rng.choice(("left", "right")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digits", type=int, default=60, help="readings for the recogniser alone")
    parser.add_argument("--takes", type=int, default=6, help="challenges rendered as whole recordings")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if media.espeak() is None:
        print("espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    misjudged = 0

    heard_right, wrong = 0, []
    for _ in range(args.digits):
        digits = random_challenge(rng).digits
        heard = recognise_digits(media.speak(digits), media.RATE, len(digits))
        heard_right += heard == digits
        if heard != digits:
            wrong.append(f"{digits}->{heard}")
    misjudged += len(wrong)
    if args.digits:
        print(f"digits: {heard_right}/{args.digits} heard exactly" + (f"; missed {', '.join(wrong)}" if wrong else ""))

    outcomes: dict[str, list[int]] = {"right take passes": [0, 0], "wrong digits fail digits": [0, 0],
                                      "no face fails face": [0, 0], "wrong turn fails turn": [0, 0]}
    seconds: list[float] = []
    for _ in range(args.takes):
        asked = random_challenge(rng)
        other_turn = "right" if asked.turn == "left" else "left"
        wrong_digits = asked.digits[:-1] + str((int(asked.digits[-1]) + 1 + rng.randrange(9)) % 10)
        variants = {
            "right take passes": (media.Take(asked.digits, asked.turn), None),
            "wrong digits fail digits": (media.Take(wrong_digits, asked.turn), "digits"),
            "no face fails face": (media.Take(asked.digits, asked.turn, face=False), "face"),
            "wrong turn fails turn": (media.Take(asked.digits, other_turn), "turn"),
        }
        for label, (take, failing) in variants.items():
            recording = media.webm_bytes(media.render(take))
            started = time.process_time()
            result = verify(recording, asked)
            seconds.append(time.process_time() - started)
            got = None if result.passed else result.failure.name
            outcomes[label][0] += got == failing
            outcomes[label][1] += 1
            if got != failing:
                misjudged += 1
                print(f"  misjudged {label} for {asked}: {result.summary()}")
    for label, (right, total) in outcomes.items():
        if total:
            print(f"takes: {label}: {right}/{total}")
    if seconds:
        print(f"verify: {sum(seconds) / len(seconds):.1f} CPU s per recording (max {max(seconds):.1f})")
    return 1 if misjudged else 0


if __name__ == "__main__":
    sys.exit(main())
