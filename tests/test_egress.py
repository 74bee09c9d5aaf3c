"""The one egress rule: hosts are classified as the HTTP client (aiohttp over yarl) will read them.

yarl maps a URL's host through IDNA (UTS #46, NFKC), so fullwidth digits, ideographic full stops or
circled digits become an ASCII address literal that aiohttp then connects to without asking the
resolver. The rule must refuse every such spelling, and every IPv6 form that carries a private
IPv4 address.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from yarl import URL

from vcsdk._egress import client_host, egress_refusal, private_host_literal, public_address

# Unicode spellings of one ASCII character that IDNA/NFKC maps back to it.
_DIGITS = {
    str(d): [
        str(d),
        chr(0xFF10 + d),  # fullwidth
        chr(0x1D7CE + d),  # mathematical bold
        chr(0x1D7F6 + d),  # mathematical monospace
        chr(0x2460 + d - 1) if d else chr(0x24EA),  # circled
        chr(0x2070 + d) if d not in (1, 2, 3) else "\u00b9\u00b2\u00b3"[d - 1],  # superscript
    ]
    for d in range(10)
}
_DOTS = [".", "\u3002", "\uff0e", "\uff61"]  # full stop, ideographic, fullwidth, halfwidth ideographic


@pytest.mark.parametrize(
    "host",
    [
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # fullwidth digits
        "127\u30020\u30020\u30021",  # ideographic full stop
        "\u2460\u2461\u2466.\u24ea.\u24ea.\u2460",  # circled digits
        "\U0001d7cf\U0001d7d0\U0001d7d5.\U0001d7ce.\U0001d7ce.\U0001d7cf",  # mathematical bold
        "\uff11\uff10.\uff10.\uff10.\uff15",
        "\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14",
        "\uff2c\uff2f\uff23\uff21\uff2c\uff28\uff2f\uff33\uff34",
        "\uff18.\uff18.\uff18.\uff18",  # public, but not plain ASCII: what is checked must be what is called
        "b\u00fccher.example",
    ],
)
def test_non_ascii_hosts_are_refused(host: str) -> None:
    reason = egress_refusal(f"https://{host}:8443/offer")
    assert reason is not None and "plain ASCII" in reason


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",  # IPv4-compatible
        "[::8.8.8.8]",  # IPv4-compatible is deprecated: never called
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:10.0.0.5]",
        "[::ffff:0:10.0.0.5]",  # SIIT
        "[64:ff9b::7f00:1]",  # NAT64 well-known prefix, 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64, 169.254.169.254
        "[64:ff9b:1::808:808]",  # local-use NAT64: never global
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[2002:c0a8:101::1]",  # 6to4 of 192.168.1.1
        "[2001:0:4136:e378:8000:63bf:f5ff:fffa]",  # Teredo, client 10.0.0.5
        "[ff0e::1]",  # global-scope multicast
        "[fe80::1]",
        "[fd00::1]",
        "[::1]",
        "[::]",
        "100.64.0.1",
        "198.18.0.1",
        "192.0.2.1",
        "240.0.0.1",
        "255.255.255.255",
        "224.0.0.1",
        "127.1",
        "0x7f.1",
        "2130706433",
        "0",
        "localhost",
        "api.localhost",
        "127.0.0.1.",
    ],
)
def test_private_and_embedded_private_addresses_are_refused(host: str) -> None:
    reason = egress_refusal(f"https://{host}/x")
    assert reason is not None and "private address" in reason, reason


@pytest.mark.parametrize(
    "url",
    ["https://93.184.215.14/x", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/x", "https://issuer.example/x",
     "https://[64:ff9b::808:808]/x", "https://xn--bcher-kva.example/x", "https://ISSUER.example:8443/x"],
)
def test_public_hosts_pass(url: str) -> None:
    assert egress_refusal(url) is None


def test_scheme_user_info_and_loopback_in_development() -> None:
    assert "https" in (egress_refusal("http://issuer.example/") or "")
    assert "user name" in (egress_refusal("https://a:b@issuer.example/") or "")
    assert egress_refusal("http://127.0.0.1:9/x", allow_loopback_http=True) is None
    assert egress_refusal("http://[::1]:9/x", allow_loopback_http=True) is None
    # Development loopback does not let Unicode spellings through, nor the rest of the network.
    fullwidth = "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:9/x"
    assert "plain ASCII" in (egress_refusal(fullwidth, allow_loopback_http=True) or "")
    assert egress_refusal("https://10.0.0.1/x", allow_loopback_http=True) is not None
    assert egress_refusal("https://10.0.0.1/x", private_hosts=["10.0.0.1"]) is None


@st.composite
def _unicode_spelling(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    out = []
    for ch in str(address):
        out.append(draw(st.sampled_from(_DOTS if ch == "." else _DIGITS[ch])))
    return "".join(out)


_private_v4 = st.sampled_from(
    ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8"]
).flatmap(
    lambda net: st.integers(0, ipaddress.IPv4Network(net).num_addresses - 1).map(
        lambda i, net=net: ipaddress.IPv4Network(net)[i]  # type: ignore[misc]
    )
)


@settings(max_examples=300, deadline=None)
@given(spelled=_private_v4.flatmap(_unicode_spelling))
@example(spelled="\uff11\uff12\uff17.\uff10.\uff10.\uff11")
@example(spelled="127\u30020\u30020\u30021")
@example(spelled="\u2460\u2461\u2466.\u24ea.\u24ea.\u2460")
def test_property_unicode_spellings_of_private_addresses_are_refused(spelled: str) -> None:
    """Whenever yarl would turn the host into a non-global address, the rule refuses it."""
    url = f"https://{spelled}:8443/path"
    try:
        yarl_host = URL(url).raw_host
    except ValueError:
        return  # the client would not call it either
    assert yarl_host is not None
    try:
        address = ipaddress.ip_address(yarl_host)
    except ValueError:
        return
    if not address.is_global:
        assert egress_refusal(url) is not None
        if not spelled.isascii():  # development loopback never lets a Unicode spelling through
            assert egress_refusal(url, allow_loopback_http=True) is not None


@settings(max_examples=200, deadline=None)
@given(v4=_private_v4, form=st.sampled_from(["::{}", "::ffff:{}", "::ffff:0:{}", "64:ff9b::{}"]))
def test_property_ipv6_forms_embedding_a_private_ipv4_are_refused(v4: ipaddress.IPv4Address, form: str) -> None:
    address = ipaddress.IPv6Address(form.format(v4))
    assert not public_address(address)
    assert egress_refusal(f"https://[{address}]/x") is not None
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | 1)
    assert not public_address(six_to_four)


def test_client_host_is_what_yarl_connects_to() -> None:
    assert client_host("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11:1/") == "127.0.0.1"
    assert client_host("https://[::ffff:127.0.0.1]/") == "::ffff:7f00:1"
    assert private_host_literal(client_host("https://\u2460\u2461\u2466.\u24ea.\u24ea.\u2460/"))
