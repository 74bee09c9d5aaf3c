"""Form bodies (``application/x-www-form-urlencoded``) are the bytes ``urllib.parse.urlencode`` makes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import example, given
from hypothesis import strategies as st

from vcsdk.oid4vc import HttpRequest
from vcsdk.oid4vc._common import form_urlencode


@given(st.dictionaries(st.text(), st.text(), max_size=5))
@example({"vp_token": '{"q":["eyJh.eyJi.c2ln~WyJz~"]}', "state": "a-b_c.d~e"})
@example({"a b": "c+d&e=f%g", "é": "\u00a0\U0001f600/?#[]@!$'()*,;"})
def test_form_body_is_what_urlencode_makes(fields: dict[str, str]) -> None:
    body = form_urlencode(fields)
    assert body == urlencode(fields).encode("utf-8")
    assert dict(parse_qsl(body.decode("ascii"), keep_blank_values=True)) == fields


def test_a_form_request_carries_the_encoded_body() -> None:
    request = HttpRequest.form("https://rp.example/response", {"vp_token": '{"q":["x y"]}', "state": "s"})
    assert request.body == b"vp_token=%7B%22q%22%3A%5B%22x+y%22%5D%7D&state=s"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
