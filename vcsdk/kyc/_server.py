"""A local resident registry: a real SOAP 1.1 service over aiohttp, for development, tests and demos.

It serves ``resident_registry.wsdl`` at ``?wsdl`` (and the XSD at ``?xsd``) and answers
``CheckResident`` and ``GetResidentStatus`` POSTs. Envelopes are parsed with lxml (no DTDs, no
entities, no network, bounded size) and validated against ``resident_registry.xsd``; anything
malformed gets a SOAP fault. Matching uses the same exact-match rules as the KYC pipeline
(:mod:`vcsdk.kyc._normalize`). It logs operations and outcomes, never the values it was sent.

This is not a production registry: it keeps its residents in memory and scans them linearly.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Iterable
from datetime import date
from types import TracebackType
from typing import Final, Literal

from aiohttp import web
from lxml import etree
from lxml.builder import ElementMaker

from vcsdk.kyc._normalize import match_fields
from vcsdk.kyc._seed import SEED_RESIDENTS, RegistryEntry
from vcsdk.kyc._types import ALL_MATCH_FIELDS, NAMESPACE, WSDL_PATH, XSD_PATH, MatchField

__all__ = ["REGISTRY_PATH", "LocalResidentRegistry", "create_registry_app"]

_log = logging.getLogger("vcsdk.kyc.registry")

SOAP11_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
#: Where the local registry listens for SOAP POSTs and serves ``?wsdl``.
REGISTRY_PATH: Final = "/resident-registry"
MAX_REQUEST_BYTES: Final = 64 * 1024
#: A record must match at least this many of the four fields to be reported as a partial match;
#: one field alone (a common birth date or family name) says nothing about the claim.
PARTIAL_MATCH_MIN_FIELDS: Final = 2

_WSDL_PLACEHOLDER: Final = "http://localhost:8080/resident-registry"
_FIELD_ORDER: Final[tuple[MatchField, ...]] = ("familyName", "givenName", "birthDate", "address")

_RR = ElementMaker(namespace=NAMESPACE, nsmap={"rr": NAMESPACE})
_ENV = ElementMaker(namespace=SOAP11_ENV, nsmap={"soap": SOAP11_ENV})
_PLAIN = ElementMaker()

FaultCode = Literal["Client", "Server", "VersionMismatch", "MustUnderstand"]


class _SoapFault(Exception):
    """A fault to send back; ``registry_code`` is machine-readable and never holds personal data."""

    def __init__(self, faultcode: FaultCode, registry_code: str, message: str) -> None:
        super().__init__(message)
        self.faultcode = faultcode
        self.registry_code = registry_code
        self.message = message


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_PATH), etree.XMLParser(no_network=True, resolve_entities=False)))


def _parser() -> etree.XMLParser:
    # No DTD loading, no entity expansion, no network access, no huge trees: requests are untrusted.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


class _Registry:
    """The in-memory residents and the lookups the two operations need."""

    def __init__(self, entries: Iterable[RegistryEntry]) -> None:
        self.entries = tuple(sorted(entries, key=lambda e: e.record.resident_id))
        self.by_id = {e.record.resident_id: e for e in self.entries}
        if len(self.by_id) != len(self.entries):
            raise ValueError("resident ids in the local registry must be unique")
        self.request_count = 0

    def check(
        self, *, family_name: str, given_name: str, birthdate: date, address: str
    ) -> tuple[Literal["full", "partial", "none"], frozenset[MatchField], RegistryEntry | None]:
        full: list[RegistryEntry] = []
        best: frozenset[MatchField] = frozenset()
        for entry in self.entries:
            fields = match_fields(
                family_name=family_name,
                given_name=given_name,
                birthdate=birthdate,
                address=address,
                record=entry.record,
            )
            if fields == ALL_MATCH_FIELDS:
                full.append(entry)
            elif len(fields) > len(best):
                best = fields
        if len(full) > 1:
            raise _SoapFault("Server", "ambiguous_match", "more than one resident record matches; check the registry")
        if full:
            return "full", ALL_MATCH_FIELDS, full[0]
        if len(best) >= PARTIAL_MATCH_MIN_FIELDS:
            return "partial", best, None
        return "none", frozenset(), None


_REGISTRY_KEY: Final = web.AppKey("resident_registry", _Registry)


def _text(element: etree._Element, name: str) -> str:
    return element.findtext(f"{{{NAMESPACE}}}{name}") or ""


def _parse_envelope(body: bytes) -> etree._Element:
    """The single element inside ``soap:Body``, after the SOAP 1.1 envelope rules."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        raise _SoapFault("Client", "malformed_envelope", "the request is not well-formed XML") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _SoapFault("Client", "dtd_not_allowed", "document type declarations are not accepted")
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise _SoapFault("VersionMismatch", "soap_version_mismatch", "this service speaks SOAP 1.1 only")
    if root.tag != f"{{{SOAP11_ENV}}}Envelope":
        raise _SoapFault("Client", "malformed_envelope", "the request is not a SOAP 1.1 envelope")
    children = [c for c in root if isinstance(c.tag, str)]
    if children and children[0].tag == f"{{{SOAP11_ENV}}}Header":
        for block in children[0]:
            if isinstance(block.tag, str) and block.get(f"{{{SOAP11_ENV}}}mustUnderstand") in ("1", "true"):
                raise _SoapFault("MustUnderstand", "header_not_understood", "a mandatory header is not supported")
        children = children[1:]
    if len(children) != 1 or children[0].tag != f"{{{SOAP11_ENV}}}Body":
        raise _SoapFault("Client", "malformed_envelope", "the envelope must hold exactly one soap:Body")
    payload = [c for c in children[0] if isinstance(c.tag, str)]
    if len(payload) != 1:
        raise _SoapFault("Client", "malformed_envelope", "soap:Body must hold exactly one operation element")
    return payload[0]


def _check_resident(registry: _Registry, request: etree._Element) -> etree._Element:
    try:
        birthdate = date.fromisoformat(_text(request, "birthDate"))
    except ValueError:
        raise _SoapFault("Client", "invalid_request", "birthDate is not a valid date") from None
    outcome, fields, entry = registry.check(
        family_name=_text(request, "familyName"),
        given_name=_text(request, "givenName"),
        birthdate=birthdate,
        address=_text(request, "address"),
    )
    _log.info("CheckResident: %s match", outcome)
    parts: list[etree._Element] = [_RR.matched(outcome)]
    parts += [_RR.matchedField(name) for name in _FIELD_ORDER if name in fields]
    if entry is not None:
        rec = entry.record
        parts += [_RR.residentId(rec.resident_id), _RR.familyName(rec.family_name), _RR.givenName(rec.given_name)]
        if rec.family_name_kana:
            parts.append(_RR.familyNameKana(rec.family_name_kana))
        if rec.given_name_kana:
            parts.append(_RR.givenNameKana(rec.given_name_kana))
        parts += [
            _RR.birthDate(rec.birthdate.isoformat()),
            _RR.address(
                _RR.postalCode(rec.address.postal_code),
                _RR.prefecture(rec.address.prefecture),
                _RR.city(rec.address.city),
                _RR.street(rec.address.street),
            ),
            _RR.residentSince(rec.resident_since.isoformat()),
        ]
    return _RR.CheckResidentResponse(*parts)


def _get_resident_status(registry: _Registry, request: etree._Element) -> etree._Element:
    entry = registry.by_id.get(_text(request, "residentId"))
    if entry is None:
        raise _SoapFault("Client", "unknown_resident", "no resident record has that residentId")
    _log.info("GetResidentStatus: %s", entry.status)
    return _RR.GetResidentStatusResponse(_RR.status(entry.status), _RR.since(entry.effective_since.isoformat()))


_OPERATIONS: Final = {
    f"{{{NAMESPACE}}}CheckResident": _check_resident,
    f"{{{NAMESPACE}}}GetResidentStatus": _get_resident_status,
}


def _envelope(payload: etree._Element) -> bytes:
    return bytes(etree.tostring(_ENV.Envelope(_ENV.Body(payload)), xml_declaration=True, encoding="utf-8"))


def _xml_response(body: bytes, *, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="text/xml", charset="utf-8")


def _fault_response(fault: _SoapFault) -> web.Response:
    # SOAP 1.1 section 6.2: a fault goes back with HTTP 500; faultcode/faultstring/detail are unqualified.
    body = _ENV.Fault(
        _PLAIN.faultcode(f"soap:{fault.faultcode}"),
        _PLAIN.faultstring(fault.message),
        _PLAIN.detail(_RR.RegistryFault(_RR.code(fault.registry_code))),
    )
    _log.info("SOAP fault %s/%s", fault.faultcode, fault.registry_code)
    return _xml_response(_envelope(body), status=500)


async def _handle_post(request: web.Request) -> web.Response:
    registry = request.app[_REGISTRY_KEY]
    registry.request_count += 1
    try:
        if request.content_type not in ("text/xml", "application/soap+xml"):
            raise _SoapFault("Client", "unsupported_media_type", "send the envelope as text/xml (SOAP 1.1)")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _SoapFault("Client", "request_too_large", "the request exceeds the size limit") from None
        operation = _parse_envelope(body)
        handler = _OPERATIONS.get(operation.tag)
        if handler is None:
            raise _SoapFault("Client", "unknown_operation", "the operation is not part of this service")
        if not _schema().validate(operation):
            raise _SoapFault("Client", "invalid_request", "the request does not match resident_registry.xsd")
        return _xml_response(_envelope(handler(registry, operation)))
    except _SoapFault as fault:
        return _fault_response(fault)
    except Exception:
        # The traceback may quote request values; log only that something broke.
        _log.error("resident registry: internal error while answering a request")
        return _fault_response(_SoapFault("Server", "internal_error", "the registry failed; try again later"))


async def _handle_get(request: web.Request) -> web.Response:
    base = str(request.url.with_query(None))
    if "wsdl" in request.query:
        wsdl = WSDL_PATH.read_text(encoding="utf-8")
        wsdl = wsdl.replace(_WSDL_PLACEHOLDER, base)
        wsdl = wsdl.replace('schemaLocation="resident_registry.xsd"', f'schemaLocation="{base}?xsd=1"')
        return _xml_response(wsdl.encode("utf-8"))
    if "xsd" in request.query:
        return _xml_response(XSD_PATH.read_bytes())
    return web.Response(text="resident registry: GET ?wsdl for the service description\n", status=404)


def create_registry_app(
    *, residents: Iterable[RegistryEntry] = SEED_RESIDENTS, path: str = REGISTRY_PATH
) -> web.Application:
    """Build the aiohttp application of the local resident registry.

    :param residents: the population to serve (the synthetic :data:`SEED_RESIDENTS` by default).
    :param path: the URL path of the service.
    :raises ValueError: two entries share a resident id.
    :return: an application to run with ``web.AppRunner`` or a test server.
    """
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[_REGISTRY_KEY] = _Registry(residents)
    app.router.add_post(path, _handle_post)
    app.router.add_get(path, _handle_get)
    return app


class LocalResidentRegistry:
    """The local registry running in this process on a real TCP port.

    ::

        async with LocalResidentRegistry(port=0) as registry:
            client = ResidentRegistryClient(registry.url)

    :param host: interface to bind; loopback by default.
    :param port: TCP port; ``0`` picks a free one (read it back from :attr:`url`).
    :param residents: the population to serve (the synthetic seed by default).
    :param access_log: log one line per HTTP request (method, path, status; never bodies).
    :param ssl_context: serve HTTPS with this context (to try a client's TLS settings locally).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        residents: Iterable[RegistryEntry] = SEED_RESIDENTS,
        access_log: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._ssl_context = ssl_context
        self._port = port
        self._app = create_registry_app(residents=residents)
        self._runner: web.AppRunner | None = None
        self._access_log = access_log
        self._bound_port: int | None = None

    async def start(self) -> None:
        """Bind and start serving.

        :raises OSError: the port cannot be bound.
        """
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self._app,
            shutdown_timeout=5.0,
            access_log=logging.getLogger("aiohttp.access") if self._access_log else None,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl_context).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and release the port."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> LocalResidentRegistry:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The SOAP endpoint, e.g. ``http://127.0.0.1:54321/resident-registry``."""
        if self._bound_port is None:
            raise RuntimeError("the local registry is not running; use 'async with' or call start()")
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{host}:{self._bound_port}{REGISTRY_PATH}"

    @property
    def wsdl_url(self) -> str:
        """Where the WSDL is served (``url`` + ``?wsdl``)."""
        return f"{self.url}?wsdl"

    @property
    def request_count(self) -> int:
        """SOAP POSTs received so far (well-formed or not), for tests and monitoring."""
        return self._app[_REGISTRY_KEY].request_count
