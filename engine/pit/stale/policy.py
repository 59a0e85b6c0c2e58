"""The tiering policy: which artifacts should move where, and why.

Rules, applied to every artifact that is not pinned and has no move in flight:

* **age**: not read for ``hot_days`` → hot goes warm; not read for ``warm_days`` → hot or warm
  goes cold when ``cold_url`` is set, else is deleted. A *protected* artifact is never deleted:
  without ``cold_url`` it goes (or stays) warm instead.
* **budget**: while the local bytes (hot + warm ``stored_size``) exceed ``budget_mb`` after the
  age moves, demote more by ascending :func:`value_score`: first hot → warm (only when that is
  expected to save space), then the remaining local artifacts → cold (or deleted when there is no
  ``cold_url`` and they are not protected).

Protected = pinned, tagged with any of ``keep_tags``, an input of an artifact that is not
deleted, or the latest version of a name. Pinned artifacts never move at all. An artifact gets
at most one move per plan; the order is deterministic (age moves oldest first, then budget
moves in the order chosen; ties broken by hash).

The warm size of a hot artifact is not known before it is compressed, so the budget pass
estimates it from the media type (:func:`estimated_warm_size`); the next plan corrects any error.

This module only reads the database: it must not move, write or delete anything.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import msgspec

from engine.pit.artifacts.models import Tier

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

    from engine.pit.artifacts.db import Database

DAY = 86_400.0
MIB = 1 << 20
_LOCAL = (Tier.HOT, Tier.WARM)
# Share of the original size a zstd (level 3) copy is expected to take, by media type.
_TEXTUAL = ("json", "xml", "yaml", "toml", "javascript", "csv", "sql", "x-sh", "ndjson")
_COMPRESSED = (
    "zip", "gzip", "zstd", "x-bzip2", "x-xz", "x-7z-compressed", "x-rar", "pdf", "octet-stream+zstd"
)  # fmt: skip


class RetentionSettings(Protocol):
    """The retention values the policy reads (``engine.config.models.ArtifactRetention``)."""

    @property
    def hot_days(self) -> float: ...
    @property
    def warm_days(self) -> float: ...
    @property
    def budget_mb(self) -> float: ...
    @property
    def cold_url(self) -> str | None: ...
    @property
    def keep_tags(self) -> Sequence[str]: ...


class PlannedMove(msgspec.Struct, frozen=True, kw_only=True):
    """One move the policy wants, with the reason in words.

    Attributes:
        hash: the artifact.
        src: its tier now.
        dst: the tier it should go to.
        size: bytes it takes in ``src`` now (its ``stored_size``).
        reason: why, with the numbers that decided it.
        last_access: its ``last_access`` when planned; a move applied later is skipped when
            the artifact was read or stored again since (None: not checked).
    """

    hash: str
    src: Tier
    dst: Tier
    size: int
    reason: str
    last_access: float | None = None


class _Candidate(msgspec.Struct, kw_only=True):
    hash: str
    tier: Tier
    size: int
    stored_size: int
    media_type: str
    pinned: bool
    last_access: float
    access_count: int
    protected_by: str | None  # why it must never be deleted, in words


def value_score(*, access_count: int, last_access: float, size: int, now: float) -> float:
    """How much an artifact is worth keeping local; the lowest scores are demoted first.

    ``score = (1 + access_count) / (1 + age_days) / log2(2 + size_kib)``, where ``age_days`` is
    the time since the last read: frequently and recently read, small artifacts score high;
    big, old, rarely read ones low.
    """
    age_days = max(0.0, now - last_access) / DAY
    return (1 + access_count) / (1 + age_days) / math.log2(2 + size / 1024)


def estimated_warm_size(size: int, media_type: str) -> int:
    """Expected zstd size of ``size`` bytes of ``media_type`` (used only to plan the budget).

    Text-like types are assumed to shrink to 30 %, already-compressed ones (images, audio,
    video, archives, PDF) not at all, anything else to 70 %.
    """
    kind, _, sub = media_type.lower().partition(";")[0].strip().partition("/")
    if kind == "text" or sub.endswith(("+json", "+xml")) or sub in _TEXTUAL:
        ratio = 0.3
    elif (kind in ("image", "audio", "video") and sub != "svg+xml") or sub in _COMPRESSED:
        ratio = 1.0
    else:
        ratio = 0.7
    return math.ceil(size * ratio)


def plan(db: Database, retention: RetentionSettings, now: float) -> list[PlannedMove]:
    """Every move the policy wants at time ``now`` (unix seconds); reads, never writes.

    Args:
        db: the store's metadata.
        retention: hot_days, warm_days, budget_mb, cold_url and keep_tags.
        now: the time the ages are measured against.
    """
    candidates = _load(db, retention.keep_tags)
    planned: dict[str, PlannedMove] = {}
    for c in sorted(candidates, key=lambda c: (c.last_access, c.hash)):
        if not c.pinned and (m := _age_move(c, retention, now)) is not None:
            planned[c.hash] = m
    by_hash = {c.hash: c for c in candidates}
    local = sum(c.stored_size for c in candidates if c.tier in _LOCAL)
    for m in planned.values():
        local -= m.size if m.src in _LOCAL else 0
        local += _estimated_dst_size(by_hash[m.hash], m.dst)
    budget = int(retention.budget_mb * MIB)
    if local <= budget:
        return list(planned.values())

    def over(score: float, c: _Candidate) -> str:
        return (
            f"over budget: local store {format_bytes(local)} > {format_bytes(budget)}"
            f" (budget_mb = {_num(retention.budget_mb)}), lowest value score {score:.3g}"
            f" ({c.access_count} reads, last {_num((now - c.last_access) / DAY)} days ago,"
            f" {format_bytes(c.size)})"
        )

    ranked = sorted(
        (
            (
                value_score(
                    access_count=c.access_count, last_access=c.last_access, size=c.size, now=now
                ),
                c,
            )
            for c in candidates
            if not c.pinned and c.hash not in planned and c.tier in _LOCAL
        ),
        key=lambda sc: (sc[0], sc[1].hash),
    )
    for score, c in ranked:  # first pass: compress hot artifacts
        if local <= budget:
            break
        saving = c.stored_size - estimated_warm_size(c.size, c.media_type)
        if c.tier is Tier.HOT and saving > 0:
            planned[c.hash] = _move(c, Tier.WARM, over(score, c))
            local -= saving
    for score, c in ranked:  # second pass: move out of the local store
        if local <= budget:
            break
        if c.hash in planned:
            continue
        if retention.cold_url is not None:
            dst = Tier.COLD
        elif c.protected_by is None:
            dst = Tier.DELETED
        else:
            continue
        reason = over(score, c)
        if dst is Tier.DELETED:
            reason += "; no cold_url, so deleted"
        planned[c.hash] = _move(c, dst, reason)
        local -= c.stored_size
    return list(planned.values())


def format_bytes(n: float) -> str:
    """``2.3 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _age_move(c: _Candidate, retention: RetentionSettings, now: float) -> PlannedMove | None:
    age = max(0.0, now - c.last_access) / DAY
    idle = f"not read for {_num(age)} days"
    if c.tier in _LOCAL and age >= retention.warm_days:
        why = f"{idle} (warm_days = {_num(retention.warm_days)})"
        if retention.cold_url is not None:
            return _move(c, Tier.COLD, why)
        if c.protected_by is None:
            return _move(c, Tier.DELETED, f"{why}; no cold_url, so deleted")
        if c.tier is Tier.HOT:
            return _move(c, Tier.WARM, f"{why}; kept on local disk: {c.protected_by}")
        return None
    if c.tier is Tier.HOT and age >= retention.hot_days:
        return _move(c, Tier.WARM, f"{idle} (hot_days = {_num(retention.hot_days)})")
    return None


def _move(c: _Candidate, dst: Tier, reason: str) -> PlannedMove:
    return PlannedMove(
        hash=c.hash,
        src=c.tier,
        dst=dst,
        size=c.stored_size,
        reason=reason,
        last_access=c.last_access,
    )


def _estimated_dst_size(c: _Candidate, dst: Tier) -> int:
    if dst is Tier.WARM:
        return min(c.stored_size, estimated_warm_size(c.size, c.media_type))
    return c.stored_size if dst is Tier.HOT else 0


def _num(x: float) -> str:
    """``12`` or ``12.3``: one decimal, without a trailing ``.0``."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


# Why an artifact ``a`` is protected (one parameter: the keep_tags as a JSON list).
_PROTECTION = """
       a.pinned,
       (SELECT MIN(t.tag) FROM tags t
         WHERE t.hash = a.hash AND t.tag IN (SELECT value FROM json_each(?))) AS keep_tag,
       (SELECT MIN(e.child) FROM edges e JOIN artifacts c ON c.hash = e.child
         WHERE e.parent = a.hash AND c.tier != 'deleted') AS used_by,
       (SELECT MIN(n.name || '@' || n.version) FROM names n
         WHERE n.hash = a.hash
           AND n.version = (SELECT MAX(m.version) FROM names m WHERE m.name = n.name)) AS latest
"""
_QUERY = f"""
SELECT a.hash, a.tier, a.size, a.stored_size, a.media_type, a.last_access, a.access_count,
       {_PROTECTION}
FROM artifacts a
WHERE a.tier IN ('hot', 'warm', 'cold') AND a.hash NOT IN (SELECT hash FROM moves)
ORDER BY a.hash
"""
_PROTECTED_ONE = f"SELECT {_PROTECTION} FROM artifacts a WHERE a.hash = ?"


def protected_by(conn: sqlite3.Connection, digest: str, keep_tags: Sequence[str]) -> str | None:
    """Why ``digest`` must never be deleted, in words (None: it is not protected).

    The same rules as :func:`plan`, for one artifact; moves re-check them right before deleting.
    """
    row = conn.execute(_PROTECTED_ONE, (_json_list(keep_tags), digest)).fetchone()
    return None if row is None else _protection(row)


def _json_list(items: Sequence[str]) -> str:
    return msgspec.json.encode(list(items)).decode()


def _protection(r: sqlite3.Row) -> str | None:
    if r["pinned"]:
        return "pinned"
    if r["keep_tag"] is not None:
        return f"protected by tag {r['keep_tag']!r} (keep_tags)"
    if r["used_by"] is not None:
        return f"protected: an input of {r['used_by'][:12]}"
    if r["latest"] is not None:
        return f"protected: latest version of {r['latest']}"
    return None


def _load(db: Database, keep_tags: Sequence[str]) -> list[_Candidate]:
    rows = db.connection().execute(_QUERY, (_json_list(keep_tags),)).fetchall()
    out = []
    for r in rows:
        out.append(
            _Candidate(
                hash=r["hash"],
                tier=Tier(r["tier"]),
                size=r["size"],
                stored_size=r["stored_size"],
                media_type=r["media_type"],
                pinned=bool(r["pinned"]),
                last_access=r["last_access"],
                access_count=r["access_count"],
                protected_by=_protection(r),
            )
        )
    return out
