"""C2PA credentials: the instance PKI, signed exports that validate, remix lineage, and tampering caught."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509

from duetto.media import read_mp4, write_mp4
from duetto.provenance import ensure_signing_identity, read_c2pa, sign_mp4
from duetto.provenance.credentials import CHAIN_FILE, KEY_FILE, ROOT_FILE, TRAINED_ALGORITHMIC_MEDIA
from tests.provenance.clips import toybox


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return ensure_signing_identity(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def mp4(tmp_path: Path) -> Path:
    return write_mp4(toybox(2, size=64, seconds=1.0), tmp_path / "clip.mp4")


def test_identity_is_made_once_with_the_extensions_c2pa_needs(tmp_path: Path) -> None:
    first = ensure_signing_identity(tmp_path / "keys")
    assert ensure_signing_identity(tmp_path / "keys") == first
    assert stat.S_IMODE((tmp_path / "keys" / KEY_FILE).stat().st_mode) == 0o600
    leaf, root = x509.load_pem_x509_certificates(first.chain)
    assert root.subject == leaf.issuer and first.root == (tmp_path / "keys" / ROOT_FILE).read_bytes()
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert leaf.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=365)


def test_a_mismatched_operator_key_is_refused(tmp_path: Path) -> None:
    a, b = ensure_signing_identity(tmp_path / "a"), ensure_signing_identity(tmp_path / "b")
    (tmp_path / "a" / KEY_FILE).write_bytes(b.key)
    with pytest.raises(ValueError, match="does not belong"):
        ensure_signing_identity(tmp_path / "a")
    assert a.chain != b.chain


def test_signed_export_validates_and_says_what_made_it(identity, mp4: Path) -> None:
    created = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    out = sign_mp4(mp4, mp4.with_name("signed.mp4"), identity=identity, clip_id="vid_42", model="toybox-v1",
                   model_version="1.0", created=created, instance="duetto.example")
    report = read_c2pa(out, trust=identity.root)
    assert report["validation_state"] == "Trusted" and report["valid"] and not report["failures"]
    manifest = report["manifest"]
    assert manifest["generator"] == "Duetto" and manifest["actions"] == ["c2pa.created"]
    assert manifest["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert manifest["clip"]["clip_id"] == "vid_42" and manifest["clip"]["model"] == "toybox-v1"
    assert manifest["clip"]["created"] == created.isoformat() and report["lineage"] == []
    # Without the instance root the signature is still valid, just not from a trusted issuer.
    assert read_c2pa(out)["validation_state"] == "Valid"
    # The media is untouched: the file still decodes to the same frames.
    assert np.array_equal(read_mp4(out).frames, read_mp4(mp4).frames)
    assert read_c2pa(mp4) is None


def test_remix_of_a_remix_carries_both_ancestors(identity, mp4: Path) -> None:
    base = dict(identity=identity, model="toybox-v1", model_version="1.0")
    original = sign_mp4(mp4, mp4.with_name("a.mp4"), clip_id="vid_a", **base)
    remix = sign_mp4(mp4, mp4.with_name("b.mp4"), clip_id="vid_b", parents=[original], **base)
    again = sign_mp4(mp4, mp4.with_name("c.mp4"), clip_id="vid_c", parents=[remix], **base)
    report = read_c2pa(again, trust=identity.root)
    assert report["trusted"] and report["manifest"]["actions"] == ["c2pa.opened", "c2pa.edited"]
    assert [step["clip"]["clip_id"] for step in report["lineage"]] == ["vid_b", "vid_a"]
    assert report["lineage"][-1]["actions"] == ["c2pa.created"]
    assert all(not step["failures"] for step in report["lineage"])


def test_tampered_media_fails_validation(identity, mp4: Path) -> None:
    signed = sign_mp4(mp4, mp4, identity=identity, clip_id="vid_t", model="toybox-v1", model_version="1.0")
    data = bytearray(signed.read_bytes())
    data[data.index(b"mdat") + 400] ^= 0xFF
    report = read_c2pa(bytes(data), trust=identity.root)
    assert report["validation_state"] == "Invalid" and not report["valid"]
    assert any("mismatch" in code for code in report["failures"])


def test_missing_files_are_value_errors(identity, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        sign_mp4(tmp_path / "nope.mp4", tmp_path / "out.mp4", identity=identity, clip_id="x", model="m",
                 model_version="1")
    with pytest.raises(ValueError, match="no such file"):
        read_c2pa(tmp_path / "nope.mp4")
    assert CHAIN_FILE.endswith(".pem")
