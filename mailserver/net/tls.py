"""TLS contexts and the self-signed certificate that makes TLS work out of the box.

With no certificate configured the server creates one for its hostname under
``data_dir/tls/`` on first start and reuses it afterwards, so STARTTLS and the
implicit-TLS listeners work with the minimal config. Clients will warn about
the unknown issuer, which is itself a useful lab discussion.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailserver.config import Config


@dataclass(frozen=True)
class CertificatePaths:
    certificate: Path
    key: Path


def certificate_paths(config: Config) -> CertificatePaths:
    """Where the configured (or the generated self-signed) certificate lives."""
    if config.tls.certificate is not None and config.tls.key is not None:
        return CertificatePaths(config.tls.certificate, config.tls.key)
    folder = config.data_dir / "tls"
    return CertificatePaths(folder / "cert.pem", folder / "key.pem")


def ensure_certificate(config: Config) -> CertificatePaths:
    """Return usable certificate paths, creating a self-signed pair when none is configured."""
    paths = certificate_paths(config)
    configured = config.tls.certificate is not None
    if not configured and not (paths.certificate.exists() and paths.key.exists()):
        write_self_signed(paths, config.hostname, ())
    return paths


def server_context(paths: CertificatePaths) -> ssl.SSLContext:
    """A server context that accepts TLS 1.2 and newer only."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(paths.certificate), str(paths.key))
    return context


def write_self_signed(
    paths: CertificatePaths, hostname: str, extra_names: Iterable[str], days: int = 3650
) -> None:
    """Write a key and a self-signed certificate for ``hostname`` and ``extra_names``.

    Extra names that parse as IP addresses become IP subject-alternative names,
    so students who connect to ``172.16.0.253`` get a matching certificate.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for name in [hostname, *extra_names]:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths.key.parent.mkdir(parents=True, exist_ok=True)
    paths.certificate.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(paths.key, key_bytes)
    _write_private(paths.certificate, certificate.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


class CertificateProblem(Exception):
    """A configured certificate or key cannot be used; the message names the
    config key and the file, so ``check-config`` and ``serve`` say what to fix."""


def check_certificate_pair(paths: CertificatePaths) -> None:
    """Raise :class:`CertificateProblem` unless both files are readable PEM and the
    key belongs to the certificate (what ``load_cert_chain`` reports only as an
    OpenSSL error without a file name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_data = _read("tls.certificate", paths.certificate)
    key_data = _read("tls.key", paths.key)
    try:
        certificate = x509.load_pem_x509_certificate(cert_data)
    except ValueError:
        raise CertificateProblem(
            f"tls.certificate: {paths.certificate} is not a PEM certificate "
            "(-----BEGIN CERTIFICATE-----)"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except (ValueError, TypeError):
        raise CertificateProblem(
            f"tls.key: {paths.key} is not an unencrypted PEM private key "
            "(-----BEGIN PRIVATE KEY-----)"
        ) from None
    spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise CertificateProblem(
            f"tls.key: {paths.key} does not match the certificate {paths.certificate}"
        )


def _read(key: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertificateProblem(f"{key}: cannot read {path}: {exc.strerror}") from None
