"""The self-signed certificate a fresh install serves over TLS."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from mailserver.config import parse_config
from mailserver.net.tls import (
    CertificatePaths,
    ensure_certificate,
    server_context,
    write_self_signed,
)


def test_first_start_creates_a_certificate_for_the_hostname_and_reuses_it(tmp_path: Path) -> None:
    config = parse_config({"hostname": "JServer.NetLab"}, base_dir=tmp_path)
    paths = ensure_certificate(config)
    assert paths.certificate == tmp_path / "data" / "tls" / "cert.pem"
    first = paths.certificate.read_bytes()
    assert ensure_certificate(config).certificate.read_bytes() == first
    assert (paths.key.stat().st_mode & 0o777) == 0o600
    context = server_context(paths)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_extra_names_and_addresses_become_subject_alternative_names(tmp_path: Path) -> None:
    paths = CertificatePaths(tmp_path / "c.pem", tmp_path / "k.pem")
    write_self_signed(paths, "JServer.NetLab", ["mail.netlab", "172.16.0.253"])
    cert = x509.load_pem_x509_certificate(paths.certificate.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["JServer.NetLab", "mail.netlab"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["172.16.0.253"]
