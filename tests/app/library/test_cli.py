"""`duetto export` and `duetto import`: an operator moves a user's library between two instances' data folders."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from duetto.app.db.models import Post, Video
from duetto.cli import app
from tests.app.library.library import seed_library
from tests.app.sites import Site


def test_export_then_import_between_data_folders(site: Site, other_site: Site, clip_assets: dict[str, bytes],
                                                 tmp_path: Path) -> None:
    lib = seed_library(site, clip_assets)
    runner = CliRunner()
    archive = tmp_path / "out" / "library.zip"
    exported = runner.invoke(app, ["export", f"@{lib.owner.handle}", "-o", str(archive), "--instance", "a.example",
                                   "--data-dir", str(site.services.settings.data_dir)])
    assert exported.exit_code == 0, exported.output
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    assert manifest["instance"] == "a.example" and len(manifest["videos"]) == len(lib.prompts)

    newcomer = other_site.person("new")
    other_dir = str(other_site.services.settings.data_dir)
    unknown = runner.invoke(app, ["import", "nobody_here", str(archive), "--data-dir", other_dir])
    assert unknown.exit_code == 1 and "No user 'nobody_here'" in unknown.output
    imported = runner.invoke(app, ["import", newcomer.handle, str(archive), "--posted", "--data-dir", other_dir])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout[imported.stdout.index("{"):])
    assert report["videos"] == len(lib.prompts) and report["posts"] == 2
    with other_site.session() as session:
        assert len(session.scalars(select(Video.id).where(Video.user_id == newcomer.user_id)).all()) == len(lib.prompts)
        assert len(session.scalars(select(Post.id).where(Post.user_id == newcomer.user_id)).all()) == 2

    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    refused = runner.invoke(app, ["import", newcomer.handle, str(tmp_path / "junk.zip"), "--data-dir", other_dir])
    assert refused.exit_code == 1 and "not a zip archive" in refused.output
