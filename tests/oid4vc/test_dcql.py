"""DCQL (OpenID4VP 1.0 §6, §7): strict parsing, claims path processing, matching, the minimal
disclosure set, claim_sets and credential_sets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vcsdk.errors import ProtocolError
from vcsdk.oid4vc import (
    CandidateCredential,
    ClaimsQuery,
    CredentialQuery,
    DcqlQuery,
    match_credential_query,
    match_dcql,
    parse_dcql_query,
    select_claims,
)
from vcsdk.oid4vc._dcql import path_covers

from .conftest import RESIDENT_CLAIMS, VCT

# OpenID4VP 1.0 §6.5 (examples/query_lang/simple.json), with the final spec's meta.vct_values.
SPEC_SIMPLE = {
    "credentials": [
        {
            "id": "my_credential",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
            "claims": [
                {"path": ["last_name"]},
                {"path": ["first_name"]},
                {"path": ["address", "street_address"]},
            ],
        }
    ]
}
# OpenID4VP 1.0 Appendix D (examples/query_lang/claims_alternatives.json, SD-JWT VC part).
SPEC_CLAIM_SETS = {
    "credentials": [
        {
            "id": "pid",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
            "claims": [
                {"id": "a", "path": ["last_name"]},
                {"id": "b", "path": ["postal_code"]},
                {"id": "c", "path": ["locality"]},
                {"id": "d", "path": ["region"]},
                {"id": "e", "path": ["date_of_birth"]},
            ],
            "claim_sets": [["a", "c", "d", "e"], ["a", "b", "e"]],
        }
    ]
}
# OpenID4VP 1.0 Appendix D (examples/query_lang/credentials_alternatives.json, shortened).
SPEC_CREDENTIAL_SETS = {
    "credentials": [
        {
            "id": "pid",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://x.example/pid"]},
            "claims": [{"path": ["given_name"]}],
        },
        {
            "id": "other_pid",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://x.example/other_pid"]},
            "claims": [{"path": ["given_name"]}],
        },
        {
            "id": "nice_to_have",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://x.example/company"]},
            "claims": [{"path": ["company_name"]}],
        },
    ],
    "credential_sets": [
        {"options": [["pid"], ["other_pid"]]},
        {"required": False, "options": [["nice_to_have"]]},
    ],
}


def _query(**extra: Any) -> dict[str, Any]:
    cq: dict[str, Any] = {"id": "id_card", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]}}
    cq.update(extra)
    return {"credentials": [cq]}


def _candidate(claims: dict[str, Any] | None = None, *, ref: str = "c1", vct: str = VCT, bound: bool = True):
    return CandidateCredential(
        ref=ref, format="dc+sd-jwt", vct=vct, claims=claims or RESIDENT_CLAIMS, holder_binding=bound
    )


# -- parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "example_query",
    [SPEC_SIMPLE, SPEC_CLAIM_SETS, SPEC_CREDENTIAL_SETS],
    ids=["simple", "claim_sets", "credential_sets"],
)
def test_spec_examples_parse_and_round_trip(example_query):
    query = parse_dcql_query(example_query)
    assert parse_dcql_query(query.to_dict()) == query
    assert query.to_dict()["credentials"][0]["id"] == example_query["credentials"][0]["id"]


def test_parse_accepts_json_text_and_ignores_unknown_members():
    import json

    text = json.dumps({**_query(claims=[{"path": ["given_name"], "future": 1}]), "future_top": True})
    query = parse_dcql_query(text)
    assert query.credentials[0].claims == (ClaimsQuery(path=("given_name",)),)


BAD_QUERIES: dict[str, Any] = {
    "not_object": [],
    "no_credentials": {},
    "empty_credentials": {"credentials": []},
    "bad_id": _query(id="has space"),
    "empty_id": _query(id=""),
    "duplicate_id": {"credentials": [_query()["credentials"][0], _query()["credentials"][0]]},
    "no_format": {"credentials": [{"id": "a", "meta": {}}]},
    "no_meta": {"credentials": [{"id": "a", "format": "dc+sd-jwt"}]},
    "no_vct_values": _query(meta={}),
    "empty_vct_values": _query(meta={"vct_values": []}),
    "vct_not_string": _query(meta={"vct_values": [1]}),
    "multiple_not_bool": _query(multiple="yes"),
    "binding_not_bool": _query(require_cryptographic_holder_binding=1),
    "empty_claims": _query(claims=[]),
    "claim_not_object": _query(claims=["given_name"]),
    "empty_path": _query(claims=[{"path": []}]),
    "path_negative_index": _query(claims=[{"path": ["a", -1]}]),
    "path_bool": _query(claims=[{"path": ["a", True]}]),
    "path_float": _query(claims=[{"path": ["a", 1.5]}]),
    "path_object": _query(claims=[{"path": [{"a": 1}]}]),
    "path_too_long": _query(claims=[{"path": ["a"] * 17}]),
    "duplicate_path": _query(claims=[{"path": ["a"]}, {"path": ["a"]}]),
    "duplicate_claim_id": _query(claims=[{"id": "x", "path": ["a"]}, {"id": "x", "path": ["b"]}]),
    "empty_values": _query(claims=[{"path": ["a"], "values": []}]),
    "float_value": _query(claims=[{"path": ["a"], "values": [1.5]}]),
    "null_value": _query(claims=[{"path": ["a"], "values": [None]}]),
    "claim_sets_without_claims": _query(claim_sets=[["x"]]),
    "claim_sets_without_ids": _query(claims=[{"path": ["a"]}], claim_sets=[["x"]]),
    "claim_sets_unknown_id": _query(claims=[{"id": "x", "path": ["a"]}], claim_sets=[["y"]]),
    "claim_sets_empty_option": _query(claims=[{"id": "x", "path": ["a"]}], claim_sets=[[]]),
    "credential_sets_empty": {**_query(), "credential_sets": []},
    "credential_sets_unknown_id": {**_query(), "credential_sets": [{"options": [["nope"]]}]},
    "credential_sets_no_options": {**_query(), "credential_sets": [{"required": True}]},
    "credential_sets_required_not_bool": {**_query(), "credential_sets": [{"options": [["id_card"]], "required": 0}]},
    "trusted_authorities_bad": _query(trusted_authorities=[{"type": "aki"}]),
    "invalid_json_text": "{not json",
}


@pytest.mark.parametrize("name", sorted(BAD_QUERIES))
def test_malformed_queries_are_invalid_request(name):
    with pytest.raises(ProtocolError) as info:
        parse_dcql_query(BAD_QUERIES[name])
    assert info.value.code == "invalid_request"


def test_query_built_in_code_is_validated_too():
    with pytest.raises(ProtocolError):
        DcqlQuery(credentials=(CredentialQuery(id="bad id", format="dc+sd-jwt", meta={"vct_values": [VCT]}),))


@given(st.text(max_size=200))
@example("null")
@example('{"credentials": [null]}')
def test_parser_raises_only_protocol_error_on_arbitrary_text(text):
    try:
        parse_dcql_query(text)
    except ProtocolError as exc:
        assert exc.code == "invalid_request"


# -- claims path pointers (§7) ------------------------------------------------------------------------

# §7.4 example credential and the selections the spec lists.
ARTHUR = {
    "name": "Arthur Dent",
    "address": {"street_address": "42 Market Street", "locality": "Milliways", "postal_code": "12345"},
    "degrees": [
        {"type": "Bachelor of Science", "university": "University of Betelgeuse"},
        {"type": "Master of Science", "university": "University of Betelgeuse"},
    ],
    "nationalities": ["British", "Betelgeusian"],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("name",), ["Arthur Dent"]),
        (("address",), [ARTHUR["address"]]),
        (("address", "street_address"), ["42 Market Street"]),
        (("degrees", None, "type"), ["Bachelor of Science", "Master of Science"]),
        (("nationalities", 1), ["Betelgeusian"]),
        (("nationalities", 5), []),
        (("missing",), []),
        (("name", "x"), []),  # a string component on a non-object aborts
        (("address", None), []),  # null on a non-array aborts
        (("address", 0), []),  # an index on a non-array aborts
    ],
)
def test_claims_path_pointer_processing(path, expected):
    assert [v for _, v in select_claims(ARTHUR, path)] == expected


def test_path_covers_containers_and_contents():
    assert path_covers(("address", "street_address"), ("address",))  # container on the way
    assert path_covers(("address",), ("address", "locality"))  # inside a requested object
    assert path_covers(("nationalities", None), ("nationalities", 3))
    assert not path_covers(("nationalities", 1), ("nationalities", 0))
    assert not path_covers(("address", "street_address"), ("address", "locality"))
    assert not path_covers(("given_name",), ("family_name",))
    assert not path_covers(("a", None), ("a", "b"))


# -- matching (§6.4) --------------------------------------------------------------------------------


def test_match_selects_exactly_the_requested_paths():
    q = parse_dcql_query(_query(claims=[{"path": ["age_equal_or_over", "18"]}, {"path": ["address", "locality"]}]))
    m = match_credential_query(q.credentials[0], _candidate())
    assert m is not None
    assert m.paths == (("age_equal_or_over", "18"), ("address", "locality"))
    assert m.concrete_paths == (("age_equal_or_over", "18"), ("address", "locality"))


def test_null_component_expands_to_concrete_indexes():
    q = parse_dcql_query(_query(claims=[{"path": ["nationalities", None]}]))
    m = match_credential_query(q.credentials[0], _candidate())
    assert m is not None and m.concrete_paths == (("nationalities", 0), ("nationalities", 1))


def test_no_claims_requests_nothing_disclosable():
    m = match_credential_query(parse_dcql_query(_query()).credentials[0], _candidate())
    assert m is not None and m.paths == () and m.concrete_paths == ()


@pytest.mark.parametrize(
    ("candidate", "why"),
    [
        (_candidate(vct="https://other.example/vct"), "wrong vct"),
        (CandidateCredential(ref="c", format="mso_mdoc", vct=None, claims=RESIDENT_CLAIMS), "wrong format"),
        (_candidate(bound=False), "no holder binding"),
        (_candidate({"given_name": "Hanako"}), "missing claim"),
    ],
)
def test_non_matching_candidates(candidate, why):
    q = parse_dcql_query(_query(claims=[{"path": ["age_equal_or_over", "18"]}]))
    assert match_credential_query(q.credentials[0], candidate) is None, why


def test_unbound_credential_matches_when_binding_not_required():
    q = parse_dcql_query(_query(require_cryptographic_holder_binding=False))
    assert match_credential_query(q.credentials[0], _candidate(bound=False)) is not None


def test_values_match_type_and_value_exactly():
    yes = parse_dcql_query(_query(claims=[{"path": ["age_equal_or_over", "18"], "values": [True]}]))
    one = parse_dcql_query(_query(claims=[{"path": ["age_equal_or_over", "18"], "values": [1]}]))
    no = parse_dcql_query(_query(claims=[{"path": ["address", "locality"], "values": ["Tokyo", "Osaka"]}]))
    assert match_credential_query(yes.credentials[0], _candidate()) is not None
    assert match_credential_query(one.credentials[0], _candidate()) is None  # True is not 1
    assert match_credential_query(no.credentials[0], _candidate()) is None


def test_claim_sets_choose_first_satisfiable_option():
    q = parse_dcql_query(
        _query(
            claims=[
                {"id": "over18", "path": ["age_equal_or_over", "18"]},
                {"id": "birthdate", "path": ["birthdate"]},
                {"id": "region", "path": ["address", "region"]},
            ],
            claim_sets=[["over18", "region"], ["birthdate"], ["over18"]],
        )
    )
    m = match_credential_query(q.credentials[0], _candidate())
    assert m is not None and m.paths == (("birthdate",),)  # the first option lacks region


def test_claim_sets_none_satisfiable_returns_nothing():
    q = parse_dcql_query(_query(claims=[{"id": "r", "path": ["address", "region"]}], claim_sets=[["r"]]))
    assert match_credential_query(q.credentials[0], _candidate()) is None


def test_match_dcql_all_credentials_required_without_sets():
    q = parse_dcql_query({"credentials": SPEC_CREDENTIAL_SETS["credentials"][:2]})
    pid = CandidateCredential(ref="p", format="dc+sd-jwt", vct="https://x.example/pid", claims={"given_name": "A"})
    result = match_dcql(q, [pid])
    assert not result.satisfiable
    with pytest.raises(ProtocolError) as info:
        result.selection()
    assert info.value.code == "access_denied"


def test_match_dcql_credential_sets_alternatives_and_optional():
    q = parse_dcql_query(SPEC_CREDENTIAL_SETS)
    other = CandidateCredential(
        ref="o", format="dc+sd-jwt", vct="https://x.example/other_pid", claims={"given_name": "A"}
    )
    company = CandidateCredential(
        ref="w", format="dc+sd-jwt", vct="https://x.example/company", claims={"company_name": "B"}
    )
    result = match_dcql(q, [other])
    assert result.selected_query_ids == ("other_pid",)
    assert {k: [m.ref for m in v] for k, v in result.selection().items()} == {"other_pid": ["o"]}
    with_optional = match_dcql(q, [other, company])
    assert with_optional.selected_query_ids == ("other_pid", "nice_to_have")
    assert not match_dcql(q, [company]).satisfiable  # the required set is unmet


# -- property: the selected paths are exactly the requested ones present in the credential ------------

_names = st.sampled_from(["a", "b", "c", "d", "e"])
_leaf = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_claims = st.recursive(
    _leaf,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(_names, children, max_size=4)),
    max_leaves=12,
).filter(lambda v: isinstance(v, dict))
_paths = st.lists(st.one_of(_names, st.integers(0, 3), st.none()), min_size=1, max_size=3).map(tuple)


@given(_claims, st.lists(_paths, min_size=1, max_size=5, unique=True))
@example({"a": [1, 2]}, [("a", None), ("b",)])
def test_property_selected_paths_are_the_requested_present_ones(claims, paths):
    query = parse_dcql_query(_query(claims=[{"path": list(p)} for p in paths]))
    present = [p for p in paths if select_claims(claims, p)]
    m = match_credential_query(query.credentials[0], _candidate(claims))
    if len(present) == len(paths):
        assert m is not None
        assert m.paths == tuple(paths)
        expected = []
        for p in paths:
            for where, _ in select_claims(claims, p):
                if where not in expected:
                    expected.append(where)
        assert list(m.concrete_paths) == expected
    else:
        assert m is None  # a credential lacking a requested claim is not returned (§6.4.1)


@given(_claims, st.lists(st.lists(_paths, min_size=1, max_size=3, unique=True), min_size=1, max_size=4))
def test_property_claim_sets_pick_the_first_fully_present_option(claims, options):
    all_paths: list[tuple[Any, ...]] = []
    for option in options:
        for p in option:
            if p not in all_paths:
                all_paths.append(p)
    ids = {p: f"c{i}" for i, p in enumerate(all_paths)}
    query = parse_dcql_query(
        _query(
            claims=[{"id": ids[p], "path": list(p)} for p in all_paths],
            claim_sets=[[ids[p] for p in option] for option in options],
        )
    )
    m = match_credential_query(query.credentials[0], _candidate(claims))
    first = next((o for o in options if all(select_claims(claims, p) for p in o)), None)
    if first is None:
        assert m is None
    else:
        assert m is not None and list(m.paths) == list(first)
