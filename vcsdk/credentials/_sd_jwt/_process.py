"""Replace digests by disclosed values and run every RFC 9901 §7.1 structural check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vcsdk.credentials._sd_jwt._common import ARRAY_DIGEST_KEY, SD_ALG_KEY, SD_DIGESTS_KEY, Disclosure
from vcsdk.credentials._sd_jwt._common import digest as disclosure_digest
from vcsdk.errors import DisclosureError, MalformedTokenError

__all__ = ["RESERVED_CLAIM_NAMES", "Processed", "process_disclosures"]

#: Names with a meaning in SD-JWT (RFC 9901 §4.2.4.1, §4.2.4.2, §4.1.1): never a claim's name. A
#: Disclosure naming one is refused wherever it sits (RFC 9901 §7.1 step 3.2.2.2.3), and so is a
#: plain member that uses one outside its place (``_sd_alg`` below the top level, ``...`` anywhere
#: but as the only member of an array element).
RESERVED_CLAIM_NAMES = frozenset({SD_DIGESTS_KEY, ARRAY_DIGEST_KEY, SD_ALG_KEY})


@dataclass(frozen=True, slots=True)
class Processed:
    """The payload with the presented Disclosures applied, and which top-level names they added."""

    claims: dict[str, Any]
    disclosed_top_level: frozenset[str]


class _Walker:
    __slots__ = ("by_digest", "max_depth", "seen", "top_level", "used")

    def __init__(self, by_digest: dict[str, Disclosure], max_depth: int) -> None:
        self.by_digest = by_digest
        self.max_depth = max_depth
        self.seen: set[str] = set()
        self.used = 0
        self.top_level: set[str] = set()

    def _reference(self, digest: object) -> Disclosure | None:
        if not isinstance(digest, str):
            raise DisclosureError("a digest in the SD-JWT is not a string", code="invalid_digest")
        # RFC 9901 §7.1 step 3.2.2/3.3.2: a digest may appear only once in the whole SD-JWT.
        if digest in self.seen:
            raise DisclosureError("the SD-JWT references the same digest twice", code="duplicate_digest")
        self.seen.add(digest)
        return self.by_digest.get(digest)

    def walk(self, value: Any, depth: int) -> Any:
        if depth > self.max_depth:
            raise MalformedTokenError(f"claims nest deeper than {self.max_depth} levels", code="token_too_deep")
        if type(value) is dict:
            return self._object(value, depth, top=False)
        if type(value) is list:
            return self._array(value, depth)
        return value

    def _object(self, obj: dict[str, Any], depth: int, *, top: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, item in obj.items():
            if name in RESERVED_CLAIM_NAMES:
                if name == SD_DIGESTS_KEY or (top and name == SD_ALG_KEY):
                    continue
                raise DisclosureError(
                    f"the SD-JWT uses the reserved name {name!r} as a claim name "
                    "('_sd_alg' belongs only at the top level, '...' only in an array element)",
                    code="reserved_claim_name",
                )
            out[name] = self.walk(item, depth + 1) if type(item) in (dict, list) else item
        digests = obj.get(SD_DIGESTS_KEY)
        if digests is None:
            return out
        if type(digests) is not list:
            raise DisclosureError("an '_sd' member must be an array of digests", code="invalid_digest")
        seen, by_digest = self.seen, self.by_digest
        for digest in digests:
            # Inlined _reference (the loop runs once per digest of every presentation).
            if type(digest) is not str:
                raise DisclosureError("a digest in the SD-JWT is not a string", code="invalid_digest")
            # RFC 9901 §7.1 step 3.2.2/3.3.2: a digest may appear only once in the whole SD-JWT.
            if digest in seen:
                raise DisclosureError("the SD-JWT references the same digest twice", code="duplicate_digest")
            seen.add(digest)
            disclosure = by_digest.get(digest)
            if disclosure is None:
                continue  # a decoy, or a claim the holder did not disclose
            if disclosure.name is None:
                # RFC 9901 §7.1 step 3.2.2.2.2: an '_sd' digest must point to a [salt, name, value].
                raise DisclosureError("an object digest points to an array-element Disclosure", code="disclosure_shape")
            name = disclosure.name
            if name in RESERVED_CLAIM_NAMES:
                # RFC 9901 §7.1 step 3.2.2.2.3. '_sd_alg' too: the top-level one is read before the
                # claims are, so a disclosed one would otherwise sit beside it unnoticed.
                raise DisclosureError(
                    f"a Disclosure uses the reserved claim name {name!r}", code="reserved_claim_name"
                )
            if name in out:
                raise DisclosureError(
                    "a Disclosure's claim name already exists in its object", code="claim_name_conflict"
                )
            self.used += 1
            if top:
                self.top_level.add(name)
            value = disclosure.value
            # walk() only for containers, or where it must refuse the depth (a scalar too).
            out[name] = self.walk(value, depth + 1) if depth >= self.max_depth or type(value) in (dict, list) else value
        return out

    def _array(self, arr: list[Any], depth: int) -> list[Any]:
        out: list[Any] = []
        for item in arr:
            if type(item) is dict and ARRAY_DIGEST_KEY in item and len(item) == 1:
                disclosure = self._reference(item[ARRAY_DIGEST_KEY])
                if disclosure is None:
                    continue
                if disclosure.name is not None:
                    # RFC 9901 §7.1 step 3.3.2.2.2: an array digest must point to a [salt, value].
                    raise DisclosureError(
                        "an array-element digest points to an object-property Disclosure",
                        code="disclosure_shape",
                    )
                self.used += 1
                out.append(self.walk(disclosure.value, depth + 1))
            else:
                out.append(self.walk(item, depth + 1) if type(item) in (dict, list) else item)
        return out


def process_disclosures(
    payload: dict[str, Any],
    disclosures: Sequence[Disclosure],
    hash_fn: Callable[..., Any],
    *,
    max_depth: int = 32,
) -> Processed:
    """Apply Disclosures to an SD-JWT payload (RFC 9901 §7.1 step 3).

    :param hash_fn: the hash of the payload's ``_sd_alg``, already checked against the allow-list.
    :raises DisclosureError: a Disclosure presented twice, a digest referenced twice, a reserved
        claim name, a Disclosure of the wrong shape for where its digest sits, a name that already
        exists, or a Disclosure that no digest references (narrowed codes tell them apart).
    :raises MalformedTokenError: if the claims nest deeper than ``max_depth``.
    :return: the processed claims without ``_sd``, ``...`` and ``_sd_alg``.
    """
    by_digest: dict[str, Disclosure] = {}
    for disclosure in disclosures:
        key = disclosure_digest(disclosure.encoded, hash_fn)
        if key in by_digest:
            raise DisclosureError("the same Disclosure is presented twice", code="duplicate_disclosure")
        by_digest[key] = disclosure
    walker = _Walker(by_digest, max_depth)
    claims = walker._object(payload, 0, top=True)
    if walker.used != len(by_digest):
        # RFC 9901 §7.1 step 4: every presented Disclosure must be referenced by a digest.
        raise DisclosureError(
            "a Disclosure is not referenced by any digest in the SD-JWT", code="unreferenced_disclosure"
        )
    return Processed(claims, frozenset(walker.top_level))
