"""vcsdk.voting loads lazily: unknown names fail cleanly, and its imports are checked in tests/test_layers.py.

Its public names are pinned with every other package's in tests/test_public_api.py.
"""

from __future__ import annotations

import vcsdk.voting


def test_unknown_names_raise_attribute_error() -> None:
    try:
        vcsdk.voting.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("expected AttributeError")
