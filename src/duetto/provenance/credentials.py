"""C2PA content credentials for exported MP4s: the instance's signing identity, signing, and reading back.

Every export gets a manifest saying it was generated (`c2pa.created`, digital source type
trainedAlgorithmicMedia) by which model, when, with Duetto's clip id; a remix is `c2pa.opened` +
`c2pa.edited` with the parent MP4 as its `parentOf` ingredient, so the parent's own manifest, and
through it every earlier ancestor, travels inside the file and is validated with it.

The instance signs with its own small PKI, made on first start by `ensure_signing_identity`: a root CA
and an ES256 end-entity certificate with the extensions C2PA validators require (digitalSignature key
usage, an accepted extended key usage, CA=false, key identifiers). Viewers that do not know the root
show the credentials as valid but untrusted; an operator with a certificate from a trusted CA puts its
chain and key in the same folder instead.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from duetto._version import __version__

GENERATOR = "Duetto"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: The label of Duetto's own assertion (clip id, model, time, instance).
CLIP_ASSERTION = "org.duetto.clip"
ROOT_FILE, ROOT_KEY_FILE = "c2pa-root.pem", "c2pa-root.key"
CHAIN_FILE, KEY_FILE = "c2pa-signer.pem", "c2pa-signer.key"
#: id-kp-documentSigning (RFC 9336); C2PA validators accept it next to emailProtection.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
LEAF_DAYS, ROOT_DAYS = 730, 3650
#: A leaf certificate this close to expiry is replaced when the root key is at hand.
RENEW_DAYS = 30


@dataclass(frozen=True)
class SigningIdentity:
    """PEM material to sign with.

    Attributes:
        chain: end-entity certificate first, then its issuers (without a self-signed root it is fine too).
        key: the end-entity private key.
        root: the root CA certificate to trust when this instance reads its own files, if known.
        directory: where the files live.
    """

    chain: bytes
    key: bytes
    root: bytes | None
    directory: Path


def _name(common: str, organisation: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _make_root(organisation: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{organisation} C2PA root", organisation)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=ROOT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256()))
    return certificate, key


def _make_leaf(root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey, organisation: str,
               now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder().subject_name(_name(f"{organisation} content credentials", organisation))
        .issuer_name(root.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256()))
    return certificate, key


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "wb") as out:
        out.write(data)


def _check_pair(chain: bytes, key: bytes, where: Path) -> x509.Certificate:
    try:
        leaf = x509.load_pem_x509_certificates(chain)[0]
        private = serialization.load_pem_private_key(key, password=None)
    except ValueError as error:
        raise ValueError(f"cannot read the signing certificate or key in {where}: {error}") from None
    if private.public_key().public_numbers() != leaf.public_key().public_numbers():  # type: ignore[union-attr]
        raise ValueError(f"{where / KEY_FILE} does not belong to the first certificate in {where / CHAIN_FILE}")
    return leaf


def ensure_signing_identity(directory: str | os.PathLike[str], *, organisation: str = GENERATOR) -> SigningIdentity:
    """The instance's C2PA signing identity in `directory`, created there on first use.

    Files: `c2pa-signer.pem` (chain, leaf first) and `c2pa-signer.key` are what signing uses; an
    operator may replace them with a certificate from a CA that viewers trust. When this instance made
    them, `c2pa-root.pem`/`.key` hold its root, and a leaf within 30 days of expiry is renewed.
    """
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create {folder} for the signing identity: {error.strerror}") from None
    now = dt.datetime.now(dt.UTC)
    chain_path, key_path = folder / CHAIN_FILE, folder / KEY_FILE
    root_path, root_key_path = folder / ROOT_FILE, folder / ROOT_KEY_FILE
    if chain_path.exists() and key_path.exists():
        chain, key = chain_path.read_bytes(), key_path.read_bytes()
        leaf = _check_pair(chain, key, folder)
        expiring = leaf.not_valid_after_utc - now < dt.timedelta(days=RENEW_DAYS)
        if not (expiring and root_path.exists() and root_key_path.exists()):
            return SigningIdentity(chain, key, root_path.read_bytes() if root_path.exists() else None, folder)
    if root_path.exists() and root_key_path.exists():
        root = x509.load_pem_x509_certificate(root_path.read_bytes())
        root_key = serialization.load_pem_private_key(root_key_path.read_bytes(), password=None)
    else:
        root, root_key = _make_root(organisation, now)
        _write_private(root_key_path, _key_pem(root_key))
        root_path.write_bytes(_pem(root))
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    leaf, leaf_key = _make_leaf(root, root_key, organisation, now)
    chain, key = _pem(leaf) + _pem(root), _key_pem(leaf_key)
    _write_private(key_path, key)
    chain_path.write_bytes(chain)
    return SigningIdentity(chain, key, _pem(root), folder)


def _context(trust: bytes | str | None) -> c2pa.Context:
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                                "builder": {"thumbnail": {"enabled": False}}}
    if trust:
        settings["trust"] = {"user_anchors": trust.decode("ascii") if isinstance(trust, bytes) else trust}
    return c2pa.Context.from_dict(settings)


def _manifest(*, clip_id: str, model: str, model_version: str, created: dt.datetime, title: str,
              parents: int, instance: str | None, extra: dict[str, Any] | None,
              description: str = "remix generated from the parent clip") -> dict[str, Any]:
    agent = {"name": model, "version": model_version}
    when = created.isoformat()
    if parents:
        actions: list[dict[str, Any]] = [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent0"]}},
            {"action": "c2pa.edited", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": agent,
             "when": when, "description": description},
        ] + [{"action": "c2pa.placed", "parameters": {"ingredientIds": [f"parent{i}"]}} for i in range(1, parents)]
    else:
        actions = [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                    "softwareAgent": agent, "when": when}]
    facts = {"clip_id": clip_id, "model": model, "model_version": model_version, "created": when,
             "generator": GENERATOR, **({"instance": instance} if instance else {}), **(extra or {})}
    return {"claim_generator_info": [{"name": GENERATOR, "version": __version__}], "title": title,
            "format": "video/mp4",
            "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}},
                           {"label": CLIP_ASSERTION, "data": facts}]}


def sign_mp4(
    path_in: str | os.PathLike[str],
    path_out: str | os.PathLike[str],
    *,
    identity: SigningIdentity,
    clip_id: str,
    model: str,
    model_version: str,
    created: dt.datetime | None = None,
    parents: Sequence[str | os.PathLike[str]] = (),
    title: str | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    description: str | None = None,
) -> Path:
    """Write `path_in` to `path_out` with a signed C2PA manifest (the same path signs in place).

    `parents` are the signed MP4s this clip was remixed from (first: the one it edits; others: placed
    components); their manifests become ingredients, which carries the whole lineage. `extra` adds
    JSON-ready facts to Duetto's own assertion; `description` says how the clip was made from its parents
    (by default, a remix).
    """
    source, target = Path(path_in), Path(path_out)
    if not source.is_file():
        raise ValueError(f"cannot sign {source}: no such file")
    missing = [str(p) for p in parents if not Path(p).is_file()]
    if missing:
        raise ValueError(f"parent clips not found: {', '.join(missing)}; pass the parents' signed MP4 files")
    created = created or dt.datetime.now(dt.UTC)
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware (e.g. datetime.now(UTC))")
    manifest = _manifest(clip_id=clip_id, model=model, model_version=model_version, created=created,
                         title=title or target.name, parents=len(parents), instance=instance, extra=extra,
                         **({"description": description} if description else {}))
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain, identity.key, None))
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    temp = Path(temp_name)
    try:
        with c2pa.Builder(manifest, context=_context(identity.root)) as builder:
            for index, parent in enumerate(parents):
                relationship = "parentOf" if index == 0 else "componentOf"
                with open(parent, "rb") as stream:
                    builder.add_ingredient({"title": Path(parent).name, "relationship": relationship,
                                            "label": f"parent{index}"}, "video/mp4", stream)
            with open(source, "rb") as src, open(temp, "w+b") as dst:
                builder.sign(signer, "video/mp4", src, dst)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except c2pa.C2paError as error:
        temp.unlink(missing_ok=True)
        raise ValueError(f"C2PA signing of {source} failed: {error}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _assertion(manifest: dict[str, Any], label: str) -> Any:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") in (label, f"{label}.v2"):
            return assertion.get("data")
    return None


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    actions = (_assertion(manifest, "c2pa.actions") or {}).get("actions", [])
    sources = [a.get("digitalSourceType") for a in actions if a.get("digitalSourceType")]
    generator = (manifest.get("claim_generator_info") or [{}])[0].get("name")
    return {"title": manifest.get("title"), "generator": generator, "clip": _assertion(manifest, CLIP_ASSERTION),
            "actions": [a.get("action") for a in actions], "digital_source_type": sources[0] if sources else None,
            "signature": manifest.get("signature_info")}


def read_c2pa(source: str | os.PathLike[str] | bytes, *, trust: bytes | str | None = None) -> dict[str, Any] | None:
    """The content credentials of an MP4 (path or bytes), or None when it has none.

    Returns validation_state ("Trusted", "Valid" or "Invalid"), valid, trusted, failures (codes),
    the active manifest's summary (title, generator, clip facts, actions, digital source type, signature)
    and lineage: the chain of parentOf ancestors, nearest first, each with its own summary. Give the
    instance's root certificate as `trust` to have its own files reported as Trusted.
    """
    if not isinstance(source, bytes | bytearray) and not Path(source).is_file():
        raise ValueError(f"cannot read {source}: no such file")
    try:
        with (io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")) as stream:
            reader = c2pa.Reader.try_create("video/mp4", stream, None, _context(trust))
            if reader is None:
                return None
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as error:
        return {"validation_state": "Invalid", "valid": False, "trusted": False, "failures": [str(error)],
                "manifest": None, "lineage": []}
    manifests = store.get("manifests", {})
    active = manifests.get(store.get("active_manifest"), {})
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    state = store.get("validation_state") or ("Invalid" if results.get("failure") else "Valid")
    lineage, current, seen = [], active, set()
    while True:
        parent = next((i for i in current.get("ingredients", []) if i.get("relationship") == "parentOf"), None)
        label = parent.get("active_manifest") if parent else None
        if not parent or label in seen:
            break
        seen.add(label)
        current = manifests.get(label, {})
        ingredient_state = ((parent.get("validation_results") or {}).get("activeManifest") or {})
        lineage.append({"manifest": label, **_summary(current),
                        "failures": [f.get("code") for f in ingredient_state.get("failure", [])]})
    return {"validation_state": state, "valid": state in ("Valid", "Trusted"), "trusted": state == "Trusted",
            "failures": [f.get("code") for f in results.get("failure", [])], "manifest": _summary(active),
            "lineage": lineage}
