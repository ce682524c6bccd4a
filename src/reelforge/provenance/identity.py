"""Who signs and marks: the C2PA signing certificate and the watermark key.

A fresh installation has neither, so the first run makes them in `data_dir/provenance/`:

* a development certificate chain: an EC P-256 root CA and a leaf it signs (C2PA rejects a
  lone self-signed certificate and a CA used as the signer). Clips signed with it validate
  ("Valid"); they are "Trusted" only where that root is a trust anchor, which `verify` on
  the same installation is. Operators with a real certificate set
  REELFORGE_C2PA_CERT_CHAIN (leaf first, PEM) and REELFORGE_C2PA_PRIVATE_KEY (PKCS#8 PEM).
* the watermark key, 32 random bytes: the invisible marks are keyed, so only holders of the
  key can read (or forge) them. Deployments that generate on several machines share one
  through REELFORGE_WATERMARK_KEY (64 hex digits).

Creation is atomic and under a lock, so a server and its workers starting together agree
on one identity.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import ConfigError
from reelforge.files import write_atomic
from reelforge.settings import Settings

ROOT_PEM, CHAIN_PEM, KEY_PEM, WATERMARK_KEY = (
    "root.pem",
    "signer-chain.pem",
    "signer-key.pem",
    "watermark.key",
)


@dataclass(frozen=True)
class Identity:
    chain_pem: bytes  # the signer's certificate first, then its issuers
    key_pem: bytes  # PKCS#8
    trust_anchors_pem: bytes  # roots `verify` trusts (the development root, and configured)
    watermark_key: bytes  # 32 bytes
    development: bool  # signed by the generated development chain


def load_identity(settings: Settings) -> Identity:
    """The configured identity, or the development one (made on first use)."""
    folder = Path(settings.data_dir) / "provenance"
    watermark_key = _watermark_key(settings, folder)
    anchors = b""
    if settings.c2pa_trust_anchors is not None:
        anchors = _read(settings.c2pa_trust_anchors, "REELFORGE_C2PA_TRUST_ANCHORS")
    if settings.c2pa_cert_chain is not None or settings.c2pa_private_key is not None:
        if settings.c2pa_cert_chain is None or settings.c2pa_private_key is None:
            raise ConfigError(
                "REELFORGE_C2PA_CERT_CHAIN and REELFORGE_C2PA_PRIVATE_KEY go together: set both",
                param="REELFORGE_C2PA_CERT_CHAIN",
            )
        chain = _read(settings.c2pa_cert_chain, "REELFORGE_C2PA_CERT_CHAIN")
        key = _read(settings.c2pa_private_key, "REELFORGE_C2PA_PRIVATE_KEY")
        return Identity(chain, key, anchors, watermark_key, development=False)
    with _locked(folder):
        if not (folder / KEY_PEM).exists():
            _write_development_chain(folder)
    root = (folder / ROOT_PEM).read_bytes()
    return Identity(
        (folder / CHAIN_PEM).read_bytes(),
        (folder / KEY_PEM).read_bytes(),
        root + anchors,
        watermark_key,
        development=True,
    )


def _read(path: Path, variable: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{variable}: cannot read {str(path)!r}: {error.strerror}") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(f"{variable}: {str(path)!r} is not a PEM file", param=variable)
    return data


def _watermark_key(settings: Settings, folder: Path) -> bytes:
    if settings.watermark_key is not None:
        text = settings.watermark_key.get_secret_value().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ConfigError(
                "REELFORGE_WATERMARK_KEY: expected 64 hex digits (32 bytes)",
                param="REELFORGE_WATERMARK_KEY",
            )
        return key
    path = folder / WATERMARK_KEY
    with _locked(folder):
        if not path.exists():
            write_atomic(path, secrets.token_bytes(32).hex().encode(), private=True)
    return bytes.fromhex(path.read_text().strip())


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_development_chain(folder: Path) -> None:
    """An EC P-256 root CA (10 years) and a signing leaf (2 years) for this installation."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "reelforge (development)"),
            ]
        )

    def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    now = datetime.datetime.now(datetime.UTC)
    tag = secrets.token_hex(4)  # tells installations' roots apart
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name(f"reelforge development root {tag}"))
        .issuer_name(name(f"reelforge development root {tag}"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(f"reelforge development signer {tag}"))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    root_pem, leaf_pem = root.public_bytes(pem), leaf.public_bytes(pem)
    key_pem = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomic(folder / ROOT_PEM, root_pem)
    write_atomic(folder / CHAIN_PEM, leaf_pem + root_pem)
    write_atomic(folder / KEY_PEM, key_pem, private=True)  # last: it marks completion
