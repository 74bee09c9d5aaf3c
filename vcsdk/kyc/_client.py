"""The resident-registry client: zeep over httpx, asynchronous, with typed errors and no personal data in logs.

Why zeep's ``AsyncTransport`` (httpx) rather than the synchronous client in a thread: the wallet
server and the issuance service are asyncio programs that may have many KYC checks in flight; an
async transport gives real cancellation (a timed-out call really stops), one connection pool with
limits, and no thread pool to size. The one synchronous part of zeep's async support is loading
the WSDL, and we never load it over the network: the WSDL ships with the package and is parsed
from disk once per client, and the configured endpoint replaces its ``soap:address``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import ssl
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

import httpx
import zeep
import zeep.exceptions
import zeep.helpers
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from vcsdk.errors import (
    InvalidInputError,
    ResidentRegistryError,
    ResidentRegistryFaultError,
    ResidentRegistryUnavailableError,
)
from vcsdk.kyc._normalize import tidy_text
from vcsdk.kyc._types import (
    ALL_MATCH_FIELDS,
    NAMESPACE,
    WSDL_PATH,
    CheckResult,
    MatchField,
    MatchOutcome,
    ResidentAddress,
    ResidentRecord,
    ResidentStatus,
    ResidentStatusCode,
)

__all__ = ["RegistryClientConfig", "ResidentRegistryClient"]

_log = logging.getLogger("vcsdk.kyc.client")

_BINDING: Final = f"{{{NAMESPACE}}}ResidentRegistryBinding"
_RESIDENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
_SAFE_TOKEN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
#: Gateway answers that mean "the registry is not reachable right now": retried like transport errors.
_RETRYABLE_HTTP_STATUS: Final = frozenset({502, 503, 504})
_MAX_NAME_CHARS: Final = 100
_MAX_ADDRESS_CHARS: Final = 300

Operation = Literal["CheckResident", "GetResidentStatus"]


@dataclass(frozen=True, slots=True)
class RegistryClientConfig:
    """How :class:`ResidentRegistryClient` talks to the registry. Defaults are safe for production.

    :param timeout: seconds one attempt may take end to end (connect, send, wait, read).
    :param connect_timeout: seconds to establish the TCP (and TLS) connection.
    :param max_attempts: attempts per call, the first included. Only transport failures (refused
        or reset connections, timeouts, HTTP 502/503/504) are retried; SOAP faults and match
        outcomes never are.
    :param backoff_initial: seconds before the second attempt; doubles after each failure.
    :param backoff_max: upper bound of one backoff wait.
    :param jitter: scale each wait by a random factor in [0.5, 1] so clients do not retry in step.
    :param verify: verify the registry's TLS certificate (turn off only against a test registry).
    :param ca_file: PEM bundle of the CAs that may sign the registry's certificate (a city's
        private CA); the system store when ``None``.
    :param client_cert_file: PEM certificate for mutual TLS, when the registry asks for one.
    :param client_key_file: PEM private key for ``client_cert_file`` (if not in the same file).
    :param proxy: an HTTP proxy URL; environment variables are never consulted.
    :param max_response_bytes: the largest answer read; a longer one is refused unparsed.
    """

    timeout: float = 10.0
    connect_timeout: float = 3.0
    max_attempts: int = 3
    backoff_initial: float = 0.2
    backoff_max: float = 2.0
    jitter: bool = True
    verify: bool = True
    ca_file: str | os.PathLike[str] | None = None
    client_cert_file: str | os.PathLike[str] | None = None
    client_key_file: str | os.PathLike[str] | None = None
    proxy: str | None = None
    max_response_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        if not self.timeout > 0 or not self.connect_timeout > 0:
            raise InvalidInputError("registry client timeouts must be positive numbers of seconds")
        if self.max_response_bytes < 1:
            raise InvalidInputError("max_response_bytes must be positive")
        if self.max_attempts < 1:
            raise InvalidInputError("max_attempts must be at least 1")
        if self.backoff_initial < 0 or self.backoff_max < 0:
            raise InvalidInputError("backoff waits cannot be negative")
        if self.client_key_file is not None and self.client_cert_file is None:
            raise InvalidInputError("client_key_file needs client_cert_file")

    def backoff(self, failed_attempts: int) -> float:
        """Seconds to wait after ``failed_attempts`` failures (exponential, capped, optionally jittered)."""
        delay = min(self.backoff_max, self.backoff_initial * 2.0 ** (failed_attempts - 1))
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay


DEFAULT_CONFIG: Final = RegistryClientConfig()


class _RetryableStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _ResponseTooLarge(Exception):
    pass


class _UnexpectedStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _RegistryTransport(AsyncTransport):  # type: ignore[misc]  # zeep ships no type hints
    """zeep's async transport without its debug logging of whole SOAP bodies (they carry personal
    data), without remote WSDL loading, with HTTP statuses sorted before zeep parses them, and with
    a bound on the size of an answer."""

    def __init__(self, *, client: httpx.AsyncClient, wsdl_client: httpx.Client, max_response_bytes: int) -> None:
        super().__init__(client=client, wsdl_client=wsdl_client)  # type: ignore[no-untyped-call]
        self.max_response_bytes = max_response_bytes

    def _load_remote_data(self, url: str) -> bytes:
        raise ResidentRegistryError(
            "the resident registry WSDL is loaded from a local file; give a path, not a URL",
            code="resident_registry_config",
        )

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> httpx.Response:
        async with self.client.stream("POST", address, content=message, headers=headers) as response:
            # SOAP 1.1: answers are 200, faults are 500; anything else is not the registry speaking.
            if response.status_code in _RETRYABLE_HTTP_STATUS:
                raise _RetryableStatus(response.status_code)
            if response.status_code not in (200, 500):
                raise _UnexpectedStatus(response.status_code)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise _ResponseTooLarge
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(body), request=response.request
        )


def _ssl_context(config: RegistryClientConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=os.fspath(config.ca_file) if config.ca_file else None)
    if not config.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if config.client_cert_file is not None:
        ctx.load_cert_chain(
            os.fspath(config.client_cert_file),
            os.fspath(config.client_key_file) if config.client_key_file is not None else None,
        )
    return ctx


def _caused_by_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # exception chains are short; the bound only guards against cycles
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _safe_token(value: object) -> str | None:
    """A fault code fit for a message: the local part of a QName if it looks like a code, else None."""
    if not isinstance(value, str):
        return None
    local = value.rsplit(":", 1)[-1].strip()
    return local if _SAFE_TOKEN.fullmatch(local) else None


def _fault_error(operation: Operation, fault: zeep.exceptions.Fault) -> ResidentRegistryFaultError:
    # The faultstring is free text from the registry and may quote what it was sent: never copy it.
    fault_code = _safe_token(fault.code) or "unknown"
    registry_code: str | None = None
    detail = fault.detail
    if detail is not None and hasattr(detail, "find"):
        node = detail.find(f".//{{{NAMESPACE}}}code")
        if node is not None:
            registry_code = _safe_token(node.text)
    reason = f"{fault_code}/{registry_code}" if registry_code else fault_code
    return ResidentRegistryFaultError(
        f"the resident registry refused {operation} with a SOAP fault ({reason}); "
        "the request was not retried: check the request or the registry's logs",
        details={"operation": operation, "fault_code": fault_code, "registry_code": registry_code},
    )


def _bad_response(operation: Operation, what: str) -> ResidentRegistryError:
    return ResidentRegistryError(
        f"the resident registry's answer to {operation} {what}; check that the endpoint speaks "
        "resident_registry.wsdl version 1",
        code="resident_registry_bad_response",
        details={"operation": operation},
    )


def _check_text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string")
    text = tidy_text(value)
    if not 0 < len(text) <= limit:
        raise InvalidInputError(f"{name} must be 1 to {limit} characters long")
    return text


class ResidentRegistryClient:
    """Asynchronous client of a resident registry that speaks ``resident_registry.wsdl``.

    ::

        async with ResidentRegistryClient("https://registry.city.example/resident-registry",
                                          config=RegistryClientConfig(ca_file="city-ca.pem")) as client:
            result = await client.check_resident(family_name="山田", given_name="太郎",
                                                 birthdate=date(1985, 4, 12), address="加賀市大聖寺錦町1-2")

    It implements the :class:`~vcsdk.kyc.ResidentRegistry` port the KYC pipeline uses. Logs and
    error messages name the operation, the attempt and the failure, never what was sent or received.

    :param endpoint: the SOAP endpoint URL (``http`` or ``https``).
    :param config: timeouts, retries and TLS settings.
    :param wsdl: a local path to the WSDL; the one shipped with vcsdk by default.
    :raises InvalidInputError: the endpoint is not an http(s) URL, or the WSDL lacks the binding.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        config: RegistryClientConfig = DEFAULT_CONFIG,
        wsdl: str | os.PathLike[str] = WSDL_PATH,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError("the resident registry endpoint must be an http:// or https:// URL")
        self._endpoint = endpoint
        self._config = config
        try:
            ctx = _ssl_context(config)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInputError(
                "the TLS files named in the registry client config could not be loaded", code="invalid_tls_config"
            ) from exc
        timeout = httpx.Timeout(config.timeout, connect=config.connect_timeout)
        self._http = httpx.AsyncClient(
            verify=ctx, timeout=timeout, proxy=config.proxy, trust_env=False, follow_redirects=False
        )
        # zeep wants a synchronous client for WSDL downloads; ours never downloads (see above).
        self._wsdl_http = httpx.Client(verify=ctx, timeout=timeout, trust_env=False)
        transport = _RegistryTransport(
            client=self._http, wsdl_client=self._wsdl_http, max_response_bytes=config.max_response_bytes
        )
        settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        try:
            zeep_client = zeep.AsyncClient(  # type: ignore[no-untyped-call]
                os.fspath(wsdl), transport=transport, settings=settings
            )
            binding = zeep_client.wsdl.bindings[_BINDING]
        except (KeyError, OSError, zeep.exceptions.Error) as exc:
            self._wsdl_http.close()
            raise InvalidInputError(
                "the WSDL could not be loaded or has no ResidentRegistryBinding", code="invalid_wsdl"
            ) from exc
        # zeep's AsyncClient.create_service returns a synchronous proxy; build the async one directly.
        self._service = AsyncServiceProxy(zeep_client, binding, address=endpoint)  # type: ignore[no-untyped-call]

    @property
    def endpoint(self) -> str:
        """The SOAP endpoint this client calls."""
        return self._endpoint

    @property
    def config(self) -> RegistryClientConfig:
        """The client's timeouts, retry and TLS settings."""
        return self._config

    def __repr__(self) -> str:
        return f"ResidentRegistryClient(endpoint={self._endpoint!r}, config={self._config!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        self._wsdl_http.close()
        await self._http.aclose()

    async def __aenter__(self) -> ResidentRegistryClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def check_resident(
        self, *, family_name: str, given_name: str, birthdate: date, address: str
    ) -> CheckResult:
        """Ask the registry whether a claimed identity matches a resident record (``CheckResident``).

        The text fields are tidied (NFKC, whitespace runs collapsed) before they are sent; matching
        itself is the registry's job.

        :param family_name: claimed family name.
        :param given_name: claimed given name.
        :param birthdate: claimed date of birth.
        :param address: claimed address, one line (optionally starting with the postal code).
        :raises InvalidInputError: a field is empty or too long, or ``birthdate`` is not a date.
        :raises ResidentRegistryUnavailableError: no answer after the configured attempts.
        :raises ResidentRegistryFaultError: the registry answered with a SOAP fault.
        :raises ResidentRegistryError: the answer is not what the WSDL promises.
        :return: the match outcome, with the registered record on a full match.
        """
        if not isinstance(birthdate, date) or isinstance(birthdate, datetime):
            raise InvalidInputError("birthdate must be a datetime.date")
        response = await self._call(
            "CheckResident",
            familyName=_check_text("family_name", family_name, _MAX_NAME_CHARS),
            givenName=_check_text("given_name", given_name, _MAX_NAME_CHARS),
            birthDate=birthdate,
            address=_check_text("address", address, _MAX_ADDRESS_CHARS),
        )
        return self._check_result(response)

    async def get_resident_status(self, resident_id: str) -> ResidentStatus:
        """Ask for the current status of a resident record (``GetResidentStatus``).

        :param resident_id: the ``residentId`` a full match returned.
        :raises InvalidInputError: ``resident_id`` is not a registry identifier.
        :raises ResidentRegistryUnavailableError: no answer after the configured attempts.
        :raises ResidentRegistryFaultError: the registry answered with a SOAP fault (unknown id).
        :raises ResidentRegistryError: the answer is not what the WSDL promises.
        :return: ``active``, ``moved_out`` or ``deceased``, and since when.
        """
        if not isinstance(resident_id, str) or not _RESIDENT_ID.fullmatch(resident_id):
            raise InvalidInputError("resident_id must be 1 to 64 letters, digits, '-' or '_'")
        response = await self._call("GetResidentStatus", residentId=resident_id)
        data = self._serialize("GetResidentStatus", response)
        status, since = data.get("status"), data.get("since")
        for code in get_args(ResidentStatusCode):
            if status == code and isinstance(since, date) and not isinstance(since, datetime):
                return ResidentStatus(status=code, since=since)
        raise _bad_response("GetResidentStatus", "lacks a valid status or date")

    async def _call(self, operation: Operation, **arguments: Any) -> Any:
        config = self._config
        for attempt in range(1, config.max_attempts + 1):
            try:
                async with asyncio.timeout(config.timeout):
                    return await self._service[operation](**arguments)
            except zeep.exceptions.Fault as exc:
                raise _fault_error(operation, exc) from None
            except (httpx.TransportError, TimeoutError, _RetryableStatus) as exc:
                reason = _failure_reason(exc)
                if reason == "tls":
                    raise ResidentRegistryUnavailableError(
                        f"TLS with the resident registry failed during {operation}; check the endpoint's "
                        "certificate and the client's ca_file",
                        code="resident_registry_tls_failed",
                        details={"operation": operation, "reason": reason},
                    ) from exc
                if attempt == config.max_attempts:
                    raise ResidentRegistryUnavailableError(
                        f"the resident registry did not answer {operation} ({reason}) after {attempt} "
                        "attempt(s); check that it is running and reachable, then try again",
                        details={"operation": operation, "reason": reason, "attempts": attempt},
                    ) from exc
                delay = config.backoff(attempt)
                _log.warning(
                    "resident registry %s attempt %d/%d failed (%s); retrying in %.2fs",
                    operation, attempt, config.max_attempts, reason, delay,
                )
                await asyncio.sleep(delay)
            except _UnexpectedStatus as exc:
                raise ResidentRegistryError(
                    f"the resident registry endpoint answered {operation} with HTTP {exc.status}; "
                    "check the endpoint URL and any access control in front of it",
                    code="resident_registry_http_status",
                    details={"operation": operation, "http_status": exc.status},
                ) from None
            except _ResponseTooLarge:
                raise _bad_response(operation, "exceeds max_response_bytes") from None
            except zeep.exceptions.Error:
                # Unparseable or schema-violating answer; zeep's message may quote the content.
                raise _bad_response(operation, "could not be parsed") from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _serialize(operation: Operation, response: Any) -> dict[str, Any]:
        data = zeep.helpers.serialize_object(response, dict)  # type: ignore[no-untyped-call]
        if not isinstance(data, dict):
            raise _bad_response(operation, "is empty")
        return data

    def _check_result(self, response: Any) -> CheckResult:
        data = self._serialize("CheckResident", response)
        outcome = data.get("matched")
        if outcome not in get_args(MatchOutcome):
            raise _bad_response("CheckResident", "has no valid 'matched' outcome")
        raw_fields = data.get("matchedField") or []
        if not all(f in ALL_MATCH_FIELDS for f in raw_fields):
            raise _bad_response("CheckResident", "names an unknown matched field")
        fields: frozenset[MatchField] = frozenset(raw_fields)
        if outcome == "none":
            return CheckResult(outcome="none")
        if outcome == "partial":
            # Values the registry sends along with a partial match are not kept: nothing may use them.
            return CheckResult(outcome="partial", matched_fields=fields)
        return CheckResult(outcome="full", matched_fields=ALL_MATCH_FIELDS, record=_record(data))


def _record(data: dict[str, Any]) -> ResidentRecord:
    address = data.get("address")
    strings = ("residentId", "familyName", "givenName")
    if (
        not all(isinstance(data.get(k), str) and data.get(k) for k in strings)
        or not isinstance(data.get("birthDate"), date)
        or not isinstance(data.get("residentSince"), date)
        or not isinstance(address, dict)
        or not all(isinstance(address.get(k), str) for k in ("postalCode", "prefecture", "city", "street"))
    ):
        raise _bad_response("CheckResident", "reports a full match without the complete record")
    kana = {k: v if isinstance(v := data.get(k), str) and v else None for k in ("familyNameKana", "givenNameKana")}
    return ResidentRecord(
        resident_id=data["residentId"],
        family_name=data["familyName"],
        given_name=data["givenName"],
        birthdate=data["birthDate"],
        address=ResidentAddress(
            postal_code=address["postalCode"],
            prefecture=address["prefecture"],
            city=address["city"],
            street=address["street"],
        ),
        resident_since=data["residentSince"],
        family_name_kana=kana["familyNameKana"],
        given_name_kana=kana["givenNameKana"],
    )


def _failure_reason(exc: BaseException) -> str:
    if _caused_by_tls(exc):
        return "tls"
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return "timeout"
    if isinstance(exc, _RetryableStatus):
        return f"http_{exc.status}"
    if isinstance(exc, httpx.ConnectError):
        return "connection_failed"
    return "transport_error"
