"""The library pages (issue 18): an export started from the settings runs to its download link, whose zip only
its owner can fetch (and which is removed with the account); an archive from another instance comes in through the import form and its report is shown;
a file that is no archive gets one line of error and nothing is written."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from duetto.app.db.models import Character, ConsentRecord, Post, Video
from duetto.app.flows.library import transfers
from duetto.app.flows.library.export import write_archive
from tests.app.conftest import _site
from tests.app.library.library import seed_library
from tests.app.servers import wait_until
from tests.app.sites import PASSWORD, Browser, Site

JSON = {"accept": "application/json"}


@pytest.fixture
def source_site(tmp_path: Path, models_dir: Path) -> Iterator[Site]:
    """Another instance, where the archive an import brings in was made."""
    yield from _site(tmp_path / "source-instance", models_dir)


def finished(browser: Browser, url: str) -> dict:
    """The transfer as the page's script polls it, once its background job has ended."""
    return wait_until(lambda: (lambda t: t if t["status"] in ("completed", "failed") else None)(
        browser.get(url, headers=JSON).json()), timeout=120, what=f"{url} to finish")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_export_from_the_settings_runs_to_a_download_only_its_owner_gets(site: Site,
                                                                        clip_assets: dict[str, bytes]) -> None:
    owner, other = site.person("own"), site.person("oth")
    site.post(owner.user_id, "a green ball falls onto a drum", "first try", assets=clip_assets)
    site.video(owner.user_id, "a blue box slides on a wooden floor", assets=clip_assets)
    mine = site.browser_for(owner)

    account = mine.get("/settings/account")
    assert 'action="/settings/library/export"' in account.text and 'href="/settings/library"' in account.text
    assert account.text.index("Download my library first") < account.text.index("Delete my account")
    started = mine.submit("/settings/library/export", page="/settings/account")
    assert started.status_code == 303
    url = started.headers["location"]
    export_id = url.rsplit("/", 1)[1]
    assert url == f"/settings/library/exports/{export_id}"
    # Started a moment ago: the page shows its progress and polls (a meta refresh where scripts are off).
    first = mine.get(url)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    if 'data-testid="export-progress"' in first.text:
        assert f'data-poll="{url}"' in first.text and 'http-equiv="refresh"' in first.text

    done = finished(mine, url)
    assert done["status"] == "completed" and done["progress"] == 100 and done["report"]["videos"] == 2
    assert done["label"] == "Done" and done["expires_at"] > done["created_at"] and not done["active"]
    page = mine.get("/settings/library")
    download = f"/settings/library/exports/{export_id}/download"
    assert f'href="{download}"' in page.text and 'data-testid="export-expires"' in page.text
    assert "Ready: 2 videos, 0 characters, 0 messages" in page.text

    response = mine.get(download)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == f'attachment; filename="duetto-library-{export_id}.zip"'
    assert response.headers["cache-control"] == "private, no-store"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "duetto-library" and manifest["account"]["handle"] == owner.handle
    assert len(manifest["videos"]) == 2

    # Someone else, signed in, finds nothing there; someone signed out is sent to sign in.
    theirs = site.browser_for(other)
    for path in (download, url):
        assert theirs.get(path).status_code == 404, path
    assert theirs.get(url, headers=JSON).status_code == 404
    assert "duetto-library" not in theirs.get(download).headers.get("content-disposition", "")
    signed_out = site.browser().get(download, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/signin")

    # Downloaded first, then the account is deleted: the archive on the server goes with it.
    storage = site.services.storage
    assert storage.exists(transfers.archive_key(export_id))
    gone = mine.submit("/settings/account/delete", {"confirm": owner.handle, "password": PASSWORD},
                       page="/settings/account")
    assert gone.status_code == 200 and not storage.exists(transfers.archive_key(export_id))


def test_an_archive_from_another_instance_comes_in_through_the_form(site: Site, source_site: Site,
                                                                   clip_assets: dict[str, bytes],
                                                                   tmp_path: Path) -> None:
    lib = seed_library(source_site, clip_assets)
    archive = tmp_path / "library.zip"
    with source_site.session() as session:
        write_archive(session=session, storage=source_site.services.storage, settings=source_site.services.settings,
                      user_id=lib.owner.user_id, instance="a.example", target=archive)
    me = site.person("new")
    # The toy's name is taken here, so it comes in renamed.
    site.toy(site.person("hol"), lib.toy.name)
    browser = site.browser_for(me)

    form = browser.get("/settings/library")
    assert 'action="/settings/library/import"' in form.text and 'enctype="multipart/form-data"' in form.text
    assert 'name="archive"' in form.text and 'value="drafts" checked' in form.text
    sent = browser.submit("/settings/library/import", {"posts": "posted"},
                          files={"archive": ("library.zip", archive.read_bytes(), "application/zip")})
    assert sent.status_code == 303, sent.text
    url = sent.headers["location"]
    assert url.startswith("/settings/library/imports/import_")
    done = finished(browser, url)
    assert done["status"] == "completed", done["error"]

    page = browser.get(url)
    assert 'data-testid="import-report"' in page.text and "Brought in from <b>a.example</b>" in page.text
    report = done["report"]
    assert (report["videos"], report["posts"], report["drafts"]) == (6, 2, 4)
    assert "6 videos: 2 posts posted here, 4 drafts." in page.text
    assert "2 characters." in page.text
    assert f"@{lib.toy.name} is <a href=\"/characters\">@{lib.toy.name}_2</a> here" in page.text
    assert "Kept ‘only me’ for now:" in page.text and f"@{lib.owner.handle}" in page.text
    assert "1 follow, 1 follower, 0 blocks, 0 likes, 1 comment, 2 messages, 1 character approval." in page.text
    assert "2 consent records kept as history" in page.text
    with site.session() as session:
        assert session.scalar(select(func.count()).select_from(Post).where(Post.user_id == me.user_id)) == 2
        assert session.scalar(select(func.count()).select_from(Video).where(Video.user_id == me.user_id)) == 6


def test_a_file_that_is_no_archive_gets_one_line_and_writes_nothing(site: Site) -> None:
    me = site.person("bad")
    browser = site.browser_for(me)
    media = Path(site.services.settings.data_dir)
    before = files_under(media)

    # Refused at once: no file chosen, an empty one, a mode that does not exist.
    for files, data, words in ((None, {}, "Choose the .zip file"),
                               ({"archive": ("empty.zip", b"", "application/zip")}, {}, "The archive is empty"),
                               ({"archive": ("a.zip", b"PK", "application/zip")}, {"posts": "all"}, "posts must be")):
        refused = browser.submit("/settings/library/import", data, files=files, page="/settings/library")
        assert refused.status_code == 400 and 'data-testid="import-refused"' in refused.text and words in refused.text
        assert 'data-testid="import-form"' in refused.text

    # Taken, then refused by the check the background job runs: the page shows its one line.
    sent = browser.submit("/settings/library/import", files={"archive": ("holiday.zip", b"not a zip at all", "application/zip")},
                          page="/settings/library")
    assert sent.status_code == 303
    done = finished(browser, sent.headers["location"])
    assert done["status"] == "failed" and done["error"]["code"] == "archive_not_zip"
    message = done["error"]["message"]
    assert "\n" not in message and message.startswith("The file is not a zip archive")
    page = browser.get(sent.headers["location"])
    assert f'<p class="alert" role="alert" data-testid="import-error">{message}</p>' in page.text
    assert 'data-testid="import-form"' in page.text  # ready for another try

    with site.session() as session:
        for model, column in ((Video, Video.user_id), (Character, Character.owner_id),
                              (ConsentRecord, ConsentRecord.user_id)):
            assert session.scalar(select(func.count()).select_from(model).where(column == me.user_id)) == 0
    # Not even the upload is kept (the database file changes; no media file appears).
    assert {p for p in files_under(media) - before if p.suffix not in (".db", ".db-wal", ".db-shm", ".db-journal")} == set()
