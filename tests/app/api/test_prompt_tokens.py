"""A prompt over the model's text encoder limit, or one of whitespace alone, is refused when it is sent (API
and create page), never queued to fail in the worker; the limit and the count come from the model folder's
tokenizer file, and agree with what the engine counts (issue 17, item 1)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from sqlalchemy import func, select

from duetto.app.db.models import Video
from tests.app.sites import Site, api_key_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# The tiny test model reads at most 128 tokens (its model_index.json's text_max_length).
LIMIT = 128
SENTENCE = "a small red rubber ball bounces on the left of a room and a blue box slides to the right. "
LONG = SENTENCE * 8  # about 700 characters, well over 128 tokens, far under the 32 000-character cap


def _jobs(site: Site) -> int:
    with site.session() as session:
        return session.scalar(select(func.count()).select_from(Video))


@pytest.fixture
def client(site: Site) -> openai.OpenAI:
    person = site.person()
    return openai.OpenAI(base_url="http://testserver/v1", api_key=api_key_for(site, person.user_id),
                         http_client=site.client, max_retries=0)


def test_api_refuses_a_prompt_over_the_token_limit_naming_it(site: Site, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt=LONG, size="64x64", seconds="1")
    error = caught.value.response.json()["error"]
    assert error["param"] == "prompt" and error["code"] == "prompt_too_long"
    assert f"at most {LIMIT} tokens" in error["message"] and "toybox-v2" in error["message"], error["message"]
    assert "Shorten it" in error["message"]
    # The sound description is read by the same encoder: a short picture with a long sound is refused too.
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="a ball", size="64x64", seconds="1", extra_body={"audio_prompt": LONG})
    assert caught.value.response.json()["error"]["code"] == "prompt_too_long"
    assert _jobs(site) == 0  # nothing was queued, so no failed draft is left behind
    # A prompt that fits is accepted as before.
    assert client.videos.create(prompt=SENTENCE, size="64x64", seconds="1").status == "queued"


@pytest.mark.parametrize("prompt", ["   ", "\n\t "])
def test_api_refuses_a_whitespace_prompt_at_once(site: Site, client: openai.OpenAI, prompt: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt=prompt, size="64x64", seconds="1")
    error = caught.value.response.json()["error"]
    assert error["param"] == "prompt" and "prompt is empty" in error["message"]
    assert _jobs(site) == 0


def test_models_expose_the_limit_and_a_count_that_matches_the_engine(site: Site, client: openai.OpenAI,
                                                                      models_dir: Path) -> None:
    from transformers import AutoTokenizer

    from duetto.app.videos import prompt_format
    from duetto.engine.text_encoder import PromptEncoder

    auth = {"Authorization": f"Bearer {client.api_key}"}
    described = site.client.get("/v1/models/toybox-v2", headers=auth).json()
    assert described["max_prompt_tokens"] == LIMIT and described["sizes"] == ["64x64", "96x64", "64x96"]
    assert site.client.get("/v1/models/sora-2", headers=auth).status_code == 404
    engine = PromptEncoder(AutoTokenizer.from_pretrained(models_dir / "toybox-v2" / "tokenizer"), None, LIMIT)
    for prompt, sound in [("a ball", None), (SENTENCE, "boings, quiet room"), ("Ünïcode <S>ba lo<E>  ok", None),
                          (LONG, None)]:
        body = {"prompt": prompt} | ({"audio_prompt": sound} if sound else {})
        counted = site.client.post("/v1/models/toybox-v2/tokens", headers=auth, json=body).json()
        expected = engine.count_tokens(prompt_format.compose(prompt, sound))
        assert counted["tokens"] == expected and counted["max_tokens"] == LIMIT
        assert counted["fits"] is (expected <= LIMIT)


def test_create_page_counts_tokens_keeps_the_prompt_and_caps_its_length(site: Site) -> None:
    person = site.person()
    browser = site.browser_for(person)
    page = browser.get("/create").text
    assert 'data-testid="token-count"' in page and f"0 / {LIMIT} tokens" in page
    # The textarea's maxlength is the longest prompt that could fit the model, not a fixed 4 000.
    info = site.services.catalog.get(None)
    assert f'maxlength="{info.max_prompt_chars}"' in page and info.max_prompt_chars < 4000

    counted = browser.client.get("/create/tokens", params={"prompt": LONG, "audio": "boings"}).json()
    assert counted["over"] is True and counted["tokens"] > LIMIT and counted["max_tokens"] == LIMIT

    refused = browser.submit("/create", {"prompt": LONG, "audio": "boings", "seconds": "1", "size": "64x64"},
                             page="/create")
    assert refused.status_code == 400
    assert f"at most {LIMIT} tokens" in refused.text and "Shorten it" in refused.text
    assert LONG.strip() in refused.text  # what was typed is kept
    assert "Too long:" in refused.text  # and the counter already says so without JavaScript
    blank = browser.submit("/create", {"prompt": "   ", "seconds": "1", "size": "64x64"}, page="/create")
    assert blank.status_code == 400 and "Describe the video first." in blank.text
    assert _jobs(site) == 0
