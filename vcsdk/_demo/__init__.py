"""``vcsdk demo``: the whole story on the embedded chain (see :mod:`vcsdk._demo._story`)."""

from __future__ import annotations

from vcsdk._demo._story import DemoResult, Narrator, run_story

__all__ = ["DemoResult", "Narrator", "run_story"]
