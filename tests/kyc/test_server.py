"""The local registry as a SOAP 1.1 service: WSDL at ?wsdl, faults for anything malformed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import zeep
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from vcsdk.kyc import WSDL_PATH, XSD_PATH, LocalResidentRegistry, create_registry_app
from vcsdk.kyc._seed import SEED_RESIDENTS
from vcsdk.kyc._server import _parse_envelope, _SoapFault

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
RR = "urn:vcsdk:resident-registry:1"


def envelope(body: str, header: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ENV}" xmlns:rr="{RR}">'
        f"{header}<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


STATUS_OK = "<rr:GetResidentStatus><rr:residentId>KG-000101</rr:residentId></rr:GetResidentStatus>"
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b'<soap:Envelope xmlns:soap="' + ENV.encode() + b'"><soap:Body>&lol2;</soap:Body></soap:Envelope>'
)

# (case id, request body, content type, expected faultcode, expected registry code)
FAULT_CASES = [
    ("not-xml", b"<soap:Envelope", "text/xml", "soap:Client", "malformed_envelope"),
    ("not-an-envelope", b"<hello/>", "text/xml", "soap:Client", "malformed_envelope"),
    ("dtd", BILLION_LAUGHS, "text/xml", "soap:Client", "dtd_not_allowed"),
    (
        "soap-1.2",
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
        "application/soap+xml",
        "soap:VersionMismatch",
        "soap_version_mismatch",
    ),
    ("empty-body", envelope(""), "text/xml", "soap:Client", "malformed_envelope"),
    ("two-operations", envelope(STATUS_OK + STATUS_OK), "text/xml", "soap:Client", "malformed_envelope"),
    ("unknown-operation", envelope("<rr:DeleteResident/>"), "text/xml", "soap:Client", "unknown_operation"),
    (
        "missing-field",
        envelope("<rr:CheckResident><rr:familyName>x</rr:familyName></rr:CheckResident>"),
        "text/xml",
        "soap:Client",
        "invalid_request",
    ),
    (
        "bad-date",
        envelope(
            "<rr:CheckResident><rr:familyName>a</rr:familyName><rr:givenName>b</rr:givenName>"
            "<rr:birthDate>1985-02-30</rr:birthDate><rr:address>c</rr:address></rr:CheckResident>"
        ),
        "text/xml",
        "soap:Client",
        "invalid_request",
    ),
    (
        "bad-resident-id",
        envelope("<rr:GetResidentStatus><rr:residentId>a b</rr:residentId></rr:GetResidentStatus>"),
        "text/xml",
        "soap:Client",
        "invalid_request",
    ),
    (
        "must-understand",
        envelope(STATUS_OK, header='<soap:Header><x:Auth xmlns:x="urn:x" soap:mustUnderstand="1"/></soap:Header>'),
        "text/xml",
        "soap:MustUnderstand",
        "header_not_understood",
    ),
    ("wrong-media-type", envelope(STATUS_OK), "application/json", "soap:Client", "unsupported_media_type"),
    ("too-large", envelope("<rr:x>" + "a" * 70_000 + "</rr:x>"), "text/xml", "soap:Client", "request_too_large"),
]


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as c:
        yield c


@pytest.mark.parametrize(("body", "content_type", "faultcode", "registry_code"), [c[1:] for c in FAULT_CASES],
                         ids=[c[0] for c in FAULT_CASES])
async def test_malformed_requests_get_soap_faults(registry, http, body, content_type, faultcode, registry_code):
    response = await http.post(registry.url, content=body, headers={"content-type": content_type})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    doc = etree.fromstring(response.content)
    fault = doc.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None
    assert fault.findtext("faultcode") == faultcode
    assert fault.findtext(f"detail/{{{RR}}}RegistryFault/{{{RR}}}code") == registry_code
    assert fault.findtext("faultstring")


async def test_a_well_formed_request_with_a_header_is_answered(registry, http):
    body = envelope(STATUS_OK, header='<soap:Header><x:Trace xmlns:x="urn:x">1</x:Trace></soap:Header>')
    response = await http.post(registry.url, content=body, headers={"content-type": "text/xml; charset=utf-8"})
    assert response.status_code == 200
    doc = etree.fromstring(response.content)
    assert doc.findtext(f"{{{ENV}}}Body/{{{RR}}}GetResidentStatusResponse/{{{RR}}}status") == "active"


async def test_responses_are_valid_against_the_xsd(registry, http):
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    check = (
        "<rr:CheckResident><rr:familyName>中村</rr:familyName><rr:givenName>さくら</rr:givenName>"
        "<rr:birthDate>2008-02-29</rr:birthDate><rr:address>つくば市竹園2-3-4</rr:address></rr:CheckResident>"
    )
    for body in (check, STATUS_OK):
        response = await http.post(registry.url, content=envelope(body), headers={"content-type": "text/xml"})
        assert response.status_code == 200
        payload = etree.fromstring(response.content).find(f"{{{ENV}}}Body")[0]
        schema.assertValid(payload)


async def test_wsdl_is_served_with_the_live_address(registry, http):
    response = await http.get(registry.wsdl_url)
    assert response.status_code == 200
    assert f'location="{registry.url}"' in response.text
    xsd = await http.get(f"{registry.url}?xsd=1")
    assert xsd.status_code == 200 and xsd.content == XSD_PATH.read_bytes()
    assert (await http.get(registry.url)).status_code == 404


async def test_a_generic_soap_client_can_use_the_served_wsdl(registry):
    # A city's own tooling loads the WSDL over HTTP; zeep's sync client runs in a thread here.
    def call() -> str:
        transport = zeep.Transport(timeout=5, operation_timeout=5)
        try:
            soap = zeep.Client(registry.wsdl_url, transport=transport)
            return str(soap.service.GetResidentStatus(residentId="TK-000202").status)
        finally:
            transport.session.close()

    assert await asyncio.to_thread(call) == "moved_out"


def test_packaged_wsdl_and_xsd_parse():
    wsdl = etree.parse(str(WSDL_PATH))
    assert wsdl.getroot().get("targetNamespace") == RR
    etree.XMLSchema(etree.parse(str(XSD_PATH)))


def test_seed_data_is_synthetic_and_covers_the_cases():
    statuses = {e.status for e in SEED_RESIDENTS}
    assert statuses == {"active", "moved_out", "deceased"}
    ids = [e.record.resident_id for e in SEED_RESIDENTS]
    assert len(set(ids)) == len(ids)
    for entry in SEED_RESIDENTS:
        address = entry.record.address
        assert (address.prefecture, address.city) in {("石川県", "加賀市"), ("茨城県", "つくば市")}
        prefix = "922-" if address.city == "加賀市" else "305-"
        assert address.postal_code.startswith(prefix)


def test_duplicate_resident_ids_are_refused():
    with pytest.raises(ValueError, match="unique"):
        create_registry_app(residents=[SEED_RESIDENTS[0], SEED_RESIDENTS[0]])


async def test_url_before_start_is_an_error():
    reg = LocalResidentRegistry()
    with pytest.raises(RuntimeError):
        _ = reg.url
    await reg.start()
    try:
        assert reg.url.startswith("http://127.0.0.1:")
    finally:
        await reg.stop()


@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
@example(body=envelope(STATUS_OK))
@example(body=BILLION_LAUGHS)
def test_envelope_parser_returns_an_element_or_a_fault(body):
    try:
        element = _parse_envelope(body)
    except _SoapFault as fault:
        assert fault.faultcode in {"Client", "VersionMismatch", "MustUnderstand"}
    else:
        assert isinstance(element.tag, str)
