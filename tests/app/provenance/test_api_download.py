"""The API's content download leaves the instance like a web download does: badge drawn in and a signed C2PA
manifest whose ingredients carry the whole remix lineage; the creator's private preview stays as made."""

from __future__ import annotations

import io
import json

import pytest

from tests.app.sites import Web, api_key_for

c2pa = pytest.importorskip("c2pa")  # c2pa-python, the library the issue names for reading credentials


def _assertion(manifest: dict, label: str) -> dict:
    return next(a["data"] for a in manifest["assertions"] if a["label"] in (label, f"{label}.v2"))


def _ancestors(store: dict) -> list[str]:
    """Clip ids of the parentOf chain, nearest first, walked through the raw manifest store."""
    found, manifest = [], store["manifests"][store["active_manifest"]]
    while True:
        parent = next((i for i in manifest.get("ingredients", []) if i.get("relationship") == "parentOf"), None)
        if parent is None:
            return found
        manifest = store["manifests"][parent["active_manifest"]]
        found.append(_assertion(manifest, "org.duetto.clip")["clip_id"])


def test_api_download_of_a_remix_of_a_remix_carries_both_ancestors(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann, bob = web.account("ann"), web.account("bob")
    original = web.video(bob.user_id, "a red ball", assets=clip_assets)
    remix = web.video(ann.user_id, "a green ball", assets=clip_assets, remix_of=original)
    remix_of_remix = web.video(ann.user_id, "a blue ball", assets=clip_assets, remix_of=remix)
    auth = {"Authorization": f"Bearer {api_key_for(web, ann.user_id)}"}

    response = web.client.get(f"/v1/videos/{remix_of_remix}/content", headers=auth)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    with c2pa.Reader("video/mp4", io.BytesIO(response.content)) as reader:
        store = json.loads(reader.json())
    assert store.get("validation_state") in ("Valid", "Trusted"), store.get("validation_results")
    active = store["manifests"][store["active_manifest"]]
    clip = _assertion(active, "org.duetto.clip")
    assert (clip["clip_id"], clip["model"], clip["creator"], clip["remixed_from"]) == (
        remix_of_remix, "toybox-v2", "@ann", remix)
    assert clip["model_version"]  # the model folder's declared version
    actions = _assertion(active, "c2pa.actions")["actions"]
    assert any(a.get("digitalSourceType", "").endswith("trainedAlgorithmicMedia") for a in actions)
    assert any((a.get("softwareAgent") or {}).get("name") == "toybox-v2" for a in actions)
    assert _ancestors(store) == [remix, original]

    # The signed file is made once and is the same one a web download of the post would give.
    again = web.client.get(f"/v1/videos/{remix_of_remix}/content", headers=auth)
    assert again.content == response.content
    assert response.content != clip_assets["video"]  # badge drawn in and signed

    # The creator's own preview in the web app stays the clip as generated: no badge, no manifest.
    browser = web.browser()
    browser.sign_in("ann")
    preview = browser.get(f"/media/{remix_of_remix}/video")
    assert preview.status_code == 200 and preview.content == clip_assets["video"]
    with pytest.raises(c2pa.C2paError):
        c2pa.Reader("video/mp4", io.BytesIO(preview.content))

    # Other variants are served as stored.
    thumbnail = web.client.get(f"/v1/videos/{remix_of_remix}/content?variant=thumbnail", headers=auth)
    assert thumbnail.content == clip_assets["thumbnail"]
