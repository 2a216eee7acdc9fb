"""Throw-away X.509 material for TLS tests, made with the ``openssl`` command line tool.

A test CA signs a server certificate (SANs ``localhost`` and ``127.0.0.1`` by default)
and client certificates. Everything is PEM: Python's ``ssl``, PostgreSQL and Kafka
(``ssl.keystore.type=PEM``) all read it, so no ``keytool`` / JKS step is needed.
Keys are EC P-256 (fast to generate) and every file is written with mode 0600.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = "2"  # plenty for a test run; an expired leftover is harmless


class TlsToolError(RuntimeError):
    """openssl is missing or one of its commands failed."""


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise TlsToolError("the openssl command line tool is missing (apt-get install openssl)")
    res = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise TlsToolError(
            f"openssl {' '.join(args)} failed (exit {res.returncode}):\n{res.stdout}{res.stderr}"
        )


def _private(*paths: Path) -> None:
    for path in paths:
        os.chmod(path, 0o600)


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its unencrypted private key (PEM files)."""

    cert: Path
    key: Path

    def read_cert(self) -> str:
        return self.cert.read_text()

    def read_key(self) -> str:
        return self.key.read_text()


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed test CA that issues server and client certificates into ``directory``."""

    directory: Path
    name: str
    pair: KeyPair

    @property
    def cert(self) -> Path:
        return self.pair.cert

    @classmethod
    def create(cls, directory: Path, name: str = "sitemon-test-ca") -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        key, cert = directory / f"{name}.key", directory / f"{name}.crt"
        _openssl(
            "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key), cwd=directory
        )
        _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            str(key),
            "-sha256",
            "-days",
            DAYS,
            "-subj",
            f"/CN={name}",
            "-out",
            str(cert),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            cwd=directory,
        )
        _private(key, cert)
        return cls(directory, name, KeyPair(cert, key))

    def issue(
        self,
        name: str,
        *,
        common_name: str,
        client: bool = False,
        dns: tuple[str, ...] = ("localhost",),
        ips: tuple[str, ...] = ("127.0.0.1",),
        days: int | None = None,
    ) -> KeyPair:
        """A certificate signed by this CA: for a server (with SANs) or, ``client=True``,
        for a client; valid from now for ``days`` (default ``DAYS``)."""
        key, csr, cert = (self.directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        ext_file = self.directory / f"{name}.ext"
        extensions = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}",
        ]
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        if sans and not client:
            extensions.append("subjectAltName=" + ",".join(sans))
        ext_file.write_text("\n".join(extensions) + "\n")
        # A PKCS#8 key ("BEGIN PRIVATE KEY"): what Kafka's PEM keystore expects.
        _openssl(
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            str(key),
            cwd=self.directory,
        )
        _openssl(
            "req",
            "-new",
            "-key",
            str(key),
            "-subj",
            f"/CN={common_name}",
            "-out",
            str(csr),
            cwd=self.directory,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(self.pair.cert),
            "-CAkey",
            str(self.pair.key),
            "-CAcreateserial",
            "-days",
            DAYS if days is None else str(days),
            "-sha256",
            "-extfile",
            str(ext_file),
            "-out",
            str(cert),
            cwd=self.directory,
        )
        _private(key, cert)
        return KeyPair(cert, key)


_CA_CONFIG = """[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
[any_name]
commonName = supplied
"""


def issue_expired(ca: CertificateAuthority, name: str, *, common_name: str) -> KeyPair:
    """A server certificate for ``localhost`` / ``127.0.0.1`` signed by ``ca`` that expired
    on 2020-01-02 00:00:00 UTC (``openssl x509`` takes no dates before 3.4: ``openssl ca``)."""
    pair = ca.issue(name, common_name=common_name)  # the key, CSR and extensions
    directory = ca.directory
    config = directory / f"{name}.cnf"
    config.write_text(_CA_CONFIG)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("1000\n")
    _openssl(
        "ca",
        "-config",
        str(config),
        "-batch",
        "-notext",
        "-cert",
        str(ca.pair.cert),
        "-keyfile",
        str(ca.pair.key),
        "-in",
        str(directory / f"{name}.csr"),
        "-extfile",
        str(directory / f"{name}.ext"),
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20200102000000Z",
        "-out",
        str(pair.cert),
        cwd=directory,
    )
    _private(pair.cert)
    return pair


def encrypted_pem_keystore(pair: KeyPair, path: Path, password: str) -> Path:
    """One PEM file holding the key (encrypted PKCS#8) followed by its certificate.

    Kafka's file based PEM keystore (``ssl.keystore.type=PEM`` +
    ``ssl.keystore.location``) requires an encrypted key and ``ssl.key.password``. The
    cipher is PKCS#12's PBE-SHA1-3DES because Kafka looks the algorithm up as a Java
    ``SecretKeyFactory`` and Java 17 has none named "PBES2" (openssl's default, AES).
    The password sits next to the key in server.properties anyway: this is a format
    requirement, not protection.
    """
    encrypted = path.with_suffix(".p8")
    _openssl(
        "pkcs8",
        "-topk8",
        "-v1",
        "PBE-SHA1-3DES",
        "-in",
        str(pair.key),
        "-out",
        str(encrypted),
        "-passout",
        f"pass:{password}",
        cwd=path.parent,
    )
    path.write_text(encrypted.read_text() + pair.read_cert())
    encrypted.unlink()
    _private(path)
    return path


def encrypted_key(pair: KeyPair, path: Path, password: str) -> Path:
    """``pair``'s key as an encrypted PKCS#8 PEM file (AES-256, what Python's ssl reads)."""
    _openssl(
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        str(pair.key),
        "-out",
        str(path),
        "-passout",
        f"pass:{password}",
        cwd=path.parent,
    )
    _private(path)
    return path
