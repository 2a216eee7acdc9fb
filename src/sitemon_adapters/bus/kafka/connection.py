"""How to reach a Kafka cluster: bootstrap servers, TLS files and SASL credentials.

Also turns a failure to connect into an error that says what went wrong: aiokafka only
logs the reason (refused, untrusted certificate, rejected password...) and raises
"Unable to bootstrap", so ``explain_failure`` retries one connection per server and
names the cause and the setting to check.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from typing import Any

import attrs

from sitemon_core.errors import SitemonError

PROBE_TIMEOUT_S = 10.0


class KafkaConnectError(SitemonError):
    """Kafka could not be reached or refused this client; the message says why.

    Never retriable at start: a wrong password or certificate does not fix itself, and a
    broker that is down would make a producer retry forever instead of failing visibly.
    """


class KafkaTlsConfigError(SitemonError):
    """The TLS files (CA, client certificate, key) cannot be loaded."""


@attrs.frozen(kw_only=True)
class KafkaConnection:
    """Connection settings shared by the producer, consumer and admin clients.

    Passwords are excluded from ``repr`` so they never reach a log line.
    """

    bootstrap_servers: str
    client_id: str = "sitemon"
    security_protocol: str = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = attrs.field(default=None, repr=False)
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = attrs.field(default=None, repr=False)

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client.

        Raises ``KafkaTlsConfigError`` naming the file and setting when a TLS file is
        missing or unusable.
        """
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context: verifies the broker against ``ssl_cafile`` (else the
        system CAs) and its host name; presents the client certificate if configured."""
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ssl_cafile)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaTlsConfigError(
                f"cannot load ssl_cafile {self.ssl_cafile}: {_file_problem(exc)}"
            ) from None
        if self.ssl_keyfile and not self.ssl_certfile:
            raise KafkaTlsConfigError("ssl_keyfile is set but ssl_certfile is not")
        if self.ssl_certfile:
            try:
                context.load_cert_chain(
                    self.ssl_certfile, self.ssl_keyfile, password=self._key_password
                )
            except KafkaTlsConfigError:
                raise
            except (OSError, ssl.SSLError) as exc:
                files = " / ".join(f for f in (self.ssl_certfile, self.ssl_keyfile) if f)
                hint = (
                    " (wrong ssl_password, or a key that does not match the certificate?)"
                    if isinstance(exc, ssl.SSLError)
                    else ""
                )
                raise KafkaTlsConfigError(
                    f"cannot load the client certificate and key {files}: "
                    f"{_file_problem(exc)}{hint}"
                ) from None
        return context

    def _key_password(self) -> str:
        # A callable, not None: with None OpenSSL would prompt on the terminal for the
        # passphrase of an encrypted key, and a service would hang there.
        if self.ssl_password is None:
            raise KafkaTlsConfigError(
                f"ssl_keyfile {self.ssl_keyfile or self.ssl_certfile} is encrypted: "
                "set ssl_password or ssl_password_file"
            )
        return self.ssl_password

    def describe(self) -> str:
        """Where and how this connects (no secrets): for error messages."""
        how = self.security_protocol
        if self.uses_sasl:
            how += f", {self.sasl_mechanism} as user {self.sasl_username!r}"
        if self.uses_tls:
            how += ", client certificate" if self.ssl_certfile else ", no client certificate"
        return f"{self.bootstrap_servers} ({how})"

    async def explain_failure(
        self, exc: BaseException, timeout_s: float = PROBE_TIMEOUT_S
    ) -> KafkaConnectError:
        """A ``KafkaConnectError`` for ``exc``, a failure of a client using this connection.

        Connects once to each bootstrap server (TLS, ApiVersions, SASL, Metadata: what a
        client's bootstrap does) to find the actual cause; falls back to ``exc``.
        """
        from aiokafka.conn import collect_hosts

        try:
            hosts = collect_hosts(self.bootstrap_servers, randomize=False)
        except (ValueError, TypeError):
            hosts = []
        reasons = []
        for host, port, _family in hosts:
            reason = await self._probe(host, port, timeout_s)
            if reason is not None:
                reasons.append(f"{host}:{port}: {reason}")
        detail = "; ".join(reasons) or _exception_text(exc)
        return KafkaConnectError(f"cannot use Kafka at {self.describe()}: {detail}")

    async def _probe(self, host: str, port: int, timeout_s: float) -> str | None:
        """Why one connection to ``host:port`` fails, or None when it works."""
        from aiokafka.conn import create_conn
        from aiokafka.protocol.metadata import MetadataRequest

        kwargs = self.client_kwargs()
        for key in ("bootstrap_servers", "security_protocol"):
            kwargs.pop(key)
        conn = None
        try:
            async with asyncio.timeout(timeout_s):
                if self.uses_tls:
                    problem = await _tls_handshake(host, port, kwargs["ssl_context"])
                    if problem is not None:
                        return problem
                conn = await create_conn(
                    host,
                    port,
                    security_protocol=self.security_protocol,
                    request_timeout_ms=int(timeout_s * 1000),
                    **kwargs,
                )
                await conn.send(MetadataRequest([]))
        except Exception as exc:  # everything is a reason here, none is a bug
            return self._reason(exc, timeout_s)
        finally:
            if conn is not None:
                conn.close()
        return None

    def _reason(self, exc: BaseException, timeout_s: float) -> str:
        from aiokafka import errors

        if isinstance(exc, errors.SaslAuthenticationFailed):
            return (
                f"SASL authentication failed: {_broker_message(exc)} "
                "(check sasl_username and sasl_password)"
            )
        if isinstance(exc, errors.UnsupportedSaslMechanismError):
            return (
                f"the broker does not accept SASL mechanism {self.sasl_mechanism} on "
                "this listener (check sasl_mechanism)"
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            trusted = f"ssl_cafile {self.ssl_cafile}" if self.ssl_cafile else "the system CAs"
            return (
                f"the broker's TLS certificate is not trusted: {exc.verify_message} "
                f"(checked against {trusted})"
            )
        if isinstance(exc, ssl.SSLError):
            hint = (
                " (is this a TLS listener?)"
                if "WRONG_VERSION" in str(exc) or "RECORD_LAYER" in str(exc)
                else ""
            )
            return f"TLS handshake failed: {exc.reason or exc}{hint}"
        if isinstance(exc, errors.KafkaConnectionError | ConnectionResetError | EOFError):
            return "the broker closed the connection: " + self._closed_hint()
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve the host name ({exc.strerror or exc})"
        if isinstance(exc, TimeoutError | asyncio.TimeoutError | errors.KafkaTimeoutError):
            return f"no answer within {timeout_s:g}s"
        if isinstance(exc, SitemonError):
            return str(exc)
        return _exception_text(exc)

    def _closed_hint(self) -> str:
        if not self.uses_tls:
            return (
                f"security_protocol is {self.security_protocol}; does this listener "
                "expect TLS (SSL / SASL_SSL)?"
            )
        if not self.ssl_certfile:
            return (
                "the listener probably requires a client certificate (set ssl_certfile "
                f"and ssl_keyfile), or does not speak {self.security_protocol}"
            )
        return (
            "it probably rejected the client certificate (is it signed by a CA the "
            f"broker trusts?), or the listener does not speak {self.security_protocol}"
        )


async def _tls_handshake(host: str, port: int, context: ssl.SSLContext) -> str | None:
    """None when a TLS handshake with ``host:port`` completes, else why it did not.

    Tells a plaintext listener (closes during the handshake) from one that rejects the
    client certificate (with TLS 1.3 the client sees that only after the handshake).
    """
    try:
        _reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except ssl.SSLCertVerificationError:
        raise  # explained by the caller
    except (
        ConnectionResetError,
        BrokenPipeError,
        EOFError,
        ssl.SSLEOFError,
        asyncio.IncompleteReadError,
    ):
        return (
            "the connection was closed during the TLS handshake: is this listener TLS "
            "(SSL / SASL_SSL)?"
        )
    writer.transport.abort()
    return None


def _broker_message(exc: BaseException) -> str:
    # aiokafka formats broker errors as "[Error 58] SaslAuthenticationFailed: <message>".
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def _exception_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _file_problem(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
