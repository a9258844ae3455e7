"""Schemathesis against the running API: thousands of generated requests, valid and invalid, from the OpenAPI
schema; none may answer 5xx, and every answer must match what the schema declares (status, content type,
body). `python -m pytest tests/app/api/test_schema_fuzz.py -s` prints the case count and the statuses."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from duetto.app.main import create_app
from duetto.clip import Clip
from tests.app.servers import ThreadedServer, add_user, embedded_settings

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Cases per operation and mode: 23 operations x 2 modes x 50 = 2300 requests, about a minute on one idle core.
EXAMPLES = 50
MIN_CASES = 2000
BUDGET_S = 180


def instant_clip(request, progress):  # noqa: ANN001, ANN201 - the Generator protocol
    progress(1, 1)
    return Clip(frames=np.zeros((2, 64, 64, 3), np.uint8), audio=np.zeros(1600, np.float32), fps=8.0,
                sample_rate=16000)


def tiny_files(clip: Clip) -> dict[str, bytes]:
    return {"video": b"\x00\x00\x00\x18ftypmp42", "thumbnail": b"RIFF0000WEBP", "spritesheet": b"\xff\xd8\xff"}


def test_no_generated_request_gets_a_5xx_or_an_answer_outside_the_schema(models_dir: Path, tmp_path: Path) -> None:
    settings_ = embedded_settings(tmp_path, models_dir, daily_quota=1e9)
    app = create_app(settings_, generate=instant_clip, render=tiny_files)
    _, key = add_user(settings_)
    auth = {"Authorization": f"Bearer {key}"}
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    with ThreadedServer(app) as server:
        schema = schemathesis.openapi.from_dict(app.openapi())
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case) -> None:  # noqa: ANN001
                    response = case.call(base_url=server.url, headers=auth, timeout=60)
                    statuses[response.status_code] += 1
                    case.validate_response(response, checks=CHECKS, headers=auth)

                run()
    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    print(f"\nschemathesis: {total} cases in {elapsed:.0f} s; statuses: "  # noqa: T201 - the documented summary
          + ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items())))
    assert total >= MIN_CASES
    assert not [s for s in statuses if s >= 500]
