"""The content-addressed artifact store (SPEC §3.5).

:class:`ArtifactStore` keeps every output once, by SHA-256 of its content, with names and
versions, tags, producers, lineage and full-text search; the records it returns live in
:mod:`engine.pit.artifacts.models`.
"""

from __future__ import annotations

from engine.pit.artifacts.models import (
    ArtifactInfo,
    GcReport,
    LineageEdge,
    Producer,
    SearchHit,
    Tier,
    VerifyProblem,
    VerifyReport,
    Version,
)
from engine.pit.artifacts.store import ArtifactStore
from engine.pit.artifacts.writes import PutItem

__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "GcReport",
    "LineageEdge",
    "Producer",
    "PutItem",
    "SearchHit",
    "Tier",
    "VerifyProblem",
    "VerifyReport",
    "Version",
]
