"""`/v1/exports` and `/v1/imports` through the API: an export runs to a download only its owner can fetch, one
runs at a time, a few a day, and expires; an import reports what came in, or its one error."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

from sqlalchemy import select

from duetto.app.db.models import LibraryTransfer, Video
from tests.app.library.library import seed_library
from tests.app.servers import wait_until
from tests.app.sites import Site, api_key_for


def finished(site: Site, path: str, key: str) -> dict:
    def done() -> dict | None:
        body = site.client.get(path, headers={"Authorization": f"Bearer {key}"}).json()
        return body if body["status"] in ("completed", "failed") else None

    return wait_until(done, timeout=300, what=f"{path} to finish")


def test_export_downloads_for_its_owner_only_then_expires(site: Site, clip_assets: dict[str, bytes]) -> None:
    lib = seed_library(site, clip_assets)
    key, stranger = api_key_for(site, lib.owner.user_id), api_key_for(site, lib.friend.user_id)
    auth = {"Authorization": f"Bearer {key}"}
    started = site.client.post("/v1/exports", headers=auth)
    assert started.status_code == 200 and started.json()["object"] == "library.export"
    export_id = started.json()["id"]
    done = finished(site, f"/v1/exports/{export_id}", key)
    assert done["status"] == "completed" and done["progress"] == 100 and done["report"]["videos"] == len(lib.prompts)
    content = site.client.get(f"/v1/exports/{export_id}/content", headers=auth)
    assert content.status_code == 200 and content.headers["content-type"] == "application/zip"
    assert int(content.headers["content-length"]) == done["bytes"] == len(content.content)
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(content.content)).namelist()
    for path in (f"/v1/exports/{export_id}", f"/v1/exports/{export_id}/content"):
        assert site.client.get(path, headers={"Authorization": f"Bearer {stranger}"}).status_code == 404
    with site.session() as session:
        session.get(LibraryTransfer, export_id).expires_at = time.time() - 1
    expired = site.client.get(f"/v1/exports/{export_id}/content", headers=auth)
    assert expired.status_code == 410 and "start a new one" in expired.json()["error"]["message"]


def test_one_export_at_a_time_and_a_few_a_day(site: Site) -> None:
    owner = site.person("own")
    key = api_key_for(site, owner.user_id)
    auth = {"Authorization": f"Bearer {key}"}
    now = time.time()
    with site.session() as session:
        session.add(LibraryTransfer(id="export_running", user_id=owner.user_id, direction="export",
                                    status="in_progress", progress=10, options={}, report={}, created_at=now,
                                    heartbeat_at=now))
    busy = site.client.post("/v1/exports", headers=auth)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "export_in_progress"
    with site.session() as session:
        session.get(LibraryTransfer, "export_running").status = "completed"
        for n in range(site.services.settings.exports_per_day - 1):
            session.add(LibraryTransfer(id=f"export_{n}", user_id=owner.user_id, direction="export",
                                        status="completed", progress=100, options={}, report={}, created_at=now))
    limited = site.client.post("/v1/exports", headers=auth)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 23 * 3600


def test_import_reports_what_came_in(site: Site, other_site: Site, clip_assets: dict[str, bytes],
                                     tmp_path: Path) -> None:
    lib = seed_library(site, clip_assets)
    key = api_key_for(site, lib.owner.user_id)
    export_id = site.client.post("/v1/exports", headers={"Authorization": f"Bearer {key}"}).json()["id"]
    assert finished(site, f"/v1/exports/{export_id}", key)["status"] == "completed"
    archive = site.client.get(f"/v1/exports/{export_id}/content", headers={"Authorization": f"Bearer {key}"}).content

    newcomer = other_site.person("new")
    other_key = api_key_for(other_site, newcomer.user_id)
    auth = {"Authorization": f"Bearer {other_key}"}
    bad_mode = other_site.client.post("/v1/imports", headers=auth, data={"posts": "public"},
                                      files={"archive": ("library.zip", archive, "application/zip")})
    assert bad_mode.status_code == 400
    started = other_site.client.post("/v1/imports", headers=auth, data={"posts": "posted"},
                                     files={"archive": ("library.zip", archive, "application/zip")})
    assert started.status_code == 200, started.text
    done = finished(other_site, f"/v1/imports/{started.json()['id']}", other_key)
    assert done["status"] == "completed", done["error"]
    assert done["report"]["videos"] == len(lib.prompts) and done["report"]["posts"] == 2
    assert done["report"]["kept_as_reference"]["messages"] == 2
    listed = other_site.client.get("/v1/videos?limit=100", headers=auth).json()["data"]
    assert len(listed) == len(lib.prompts)

    not_zip = other_site.client.post("/v1/imports", headers=auth,
                                     files={"archive": ("library.zip", b"PK not really", "application/zip")})
    refused = finished(other_site, f"/v1/imports/{not_zip.json()['id']}", other_key)
    assert refused["status"] == "failed" and refused["error"]["code"] == "archive_not_zip"
    with other_site.session() as session:
        count = len(session.scalars(select(Video.id).where(Video.user_id == newcomer.user_id)).all())
        assert count == len(lib.prompts)  # the refused archive wrote nothing
        # The uploaded archives are not kept once imported or refused.
        assert all(t.archive_key is None for t in session.scalars(select(LibraryTransfer)))
    assert not list((other_site.services.settings.data_dir / "media" / "library").glob("*/archive.zip"))
