"""Test certificate authorities and server certificates, made on the spot (nothing here is trusted anywhere)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Authority:
    """A self-signed CA: its certificate and key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def make_authority(common_name: str, *, organization: str = "chat tests", expired: bool = False) -> Authority:
    """A CA certificate valid for a day (or one that expired yesterday)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    start, end = (
        (now - datetime.timedelta(days=3), now - datetime.timedelta(days=1))
        if expired
        else (
            now - datetime.timedelta(minutes=5),
            now + datetime.timedelta(days=1),
        )
    )
    name = _name(common_name, organization)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


def issue_server_certificate(authority: Authority, dns_name: str, folder: Path) -> tuple[Path, Path]:
    """A server certificate for ``dns_name`` only (no IP address), signed by ``authority``: (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name, "chat tests"))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(authority.key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.crt", folder / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def write_bundle(path: Path, *authorities: Authority) -> Path:
    """A PEM bundle of the authorities' certificates at ``path``."""
    path.write_bytes(b"".join(authority.pem() for authority in authorities))
    return path


def fake_rds_bundle(path: Path) -> Path:
    """A stand-in for RDS's global-bundle.pem: CA certificates named the way RDS names its root CAs."""
    return write_bundle(
        path,
        make_authority("Amazon RDS test-region-1 Root CA RSA2048 G1", organization="Amazon Web Services, Inc."),
        make_authority("Amazon RDS test-region-1 Root CA ECC384 G1", organization="Amazon Web Services, Inc."),
    )
