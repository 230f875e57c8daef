"""The lab's private certificate authority and per-host HTTPS server certificates.

EC P-256 keys are fast to make, so the CA is created at lab start and each host's
certificate on its first HTTPS connection (a thousand-host lab starts without signing a
thousand certificates up front). Clients validate against the CA PEM the lab writes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=30)
_BACKDATE = dt.timedelta(hours=1)  # tolerate small clock differences between lab and client


class LabCertificateAuthority:
    """A throwaway CA that signs one server certificate per host.

    Attributes:
        ca_path: the CA certificate (PEM) clients should trust.
    """

    def __init__(self, directory: Path, name: str = "fleetlogoff lab CA") -> None:
        self._directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = directory / "lab-ca.pem"
        self.ca_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        self._certificates: dict[tuple[str, str], bytes] = {}

    def server_context(self, host_name: str, address: str) -> ssl.SSLContext:
        """Return (creating once) the TLS server context for one host.

        Args:
            host_name: the host's computer name (DNS SAN and CN).
            address: the IP the host listens on (IP SAN, what clients connect to).

        Returns:
            An SSLContext presenting a certificate signed by this CA.
        """
        key = (host_name, address)
        context = self._contexts.get(key)
        if context is None:
            cert_path = self._issue(host_name, address)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert_path)
            self._contexts[key] = context
        return context

    def certificate_der(self, host_name: str, address: str) -> bytes:
        """The DER of the certificate server_context presents for this host (its
        tls-server-end-point channel binding is a hash of these bytes)."""
        self.server_context(host_name, address)
        return self._certificates[(host_name, address)]

    def _issue(self, host_name: str, address: str) -> Path:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        san = x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(address)), x509.DNSName(host_name.lower())]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        self._certificates[(host_name, address)] = cert.public_bytes(serialization.Encoding.DER)
        path = self._directory / f"host-{host_name}-{address}.pem"
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(key_pem + cert.public_bytes(serialization.Encoding.PEM))
        return path


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
