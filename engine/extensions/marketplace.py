"""The marketplace index: a JSON document listing extensions, their versions and archives.

An index is a file or an http(s) URL (``extensions.marketplace``, or ``--index``)::

    {
      "format": 1,
      "extensions": [
        {"id": "acme.wordcount", "name": "Word count", "type": "operator",
         "description": "Count words.",
         "versions": [
           {"version": "1.0.0", "url": "acme.wordcount-1.0.0.tar.gz",
            "sha256": "<64 hex digits>", "symphony": ">=0.1",
            "requires": {"acme.base": ">=1.2,<2"},
            "permissions": {"fs": {"read": ["**/*.md"]}}}
         ]}
      ]
    }

``url`` may be relative to the index. Loading is strict like manifests (unknown keys, wrong
types, malformed ids, versions, hashes and ranges, duplicate ids or versions are errors) and a
bad index raises :class:`MarketplaceError` naming the source, the JSON path and the reason; it
is never partly used. ``docs/marketplace-index.schema.json`` is generated from these models
(``python -m engine.extensions.marketplace``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.extensions.manifest import ID_RE, SEMVER_RE, ExtensionType, Permissions
from engine.extensions.semver import Range, Version, VersionError
from engine.types.errors import MarketplaceError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "FORMAT",
    "MAX_INDEX_BYTES",
    "Index",
    "IndexEntry",
    "IndexVersion",
    "index_location",
    "index_schema",
    "load_index",
    "parse_index",
    "render_index",
]

FORMAT: Literal[1] = 1
MAX_INDEX_BYTES = 16 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class IndexVersion(_Strict):
    """One published version of an extension."""

    version: str = Field(pattern=SEMVER_RE, description="Semantic version of this release.")
    url: str = Field(
        min_length=1,
        description="Where the `.tar.gz` archive is: an http(s) URL, or a path or URL relative"
        " to the index.",
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the archive, 64 lowercase hex digits."
    )
    symphony: str = Field(">=0.1", description="Symphony versions it works with (specifier).")
    requires: dict[str, str] = Field(
        default_factory=dict, description="Extensions it needs, by id, with a version range."
    )
    permissions: Permissions = Field(
        default_factory=Permissions,
        description="Summary of the manifest's permissions (shown by `symphony ext search`).",
    )

    @field_validator("symphony")
    @classmethod
    def _specifier(cls, value: str) -> str:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(
                f"not a version specifier such as '>=0.1,<2' (got {value!r})"
            ) from None
        return value

    @field_validator("requires")
    @classmethod
    def _requires(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for ext_id, spec in value.items():
            if not re.match(ID_RE, ext_id):
                raise ValueError(f"{ext_id!r} is not an extension id")
            try:
                Range.parse(spec)
            except VersionError as e:
                raise ValueError(f"{ext_id!r}: {e}") from None
        return value

    @property
    def semver(self) -> Version:
        return Version.parse(self.version)


class IndexEntry(_Strict):
    """One extension and its versions."""

    id: str = Field(pattern=ID_RE, description="The extension's id.")
    name: str = Field(min_length=1, description="Human-readable name.")
    type: ExtensionType = Field(description="`operator`, `instrument` or `motif`.")
    description: str = Field("", description="One or two sentences.")
    versions: list[IndexVersion] = Field(min_length=1, description="Published versions.")

    @field_validator("versions")
    @classmethod
    def _unique(cls, value: list[IndexVersion]) -> list[IndexVersion]:
        seen: set[Version] = set()
        for v in value:
            if v.semver in seen:
                raise ValueError(f"version {v.version} is listed twice")
            seen.add(v.semver)
        return value

    def latest(self) -> IndexVersion:
        """The highest version that is not a pre-release (else the highest)."""
        releases = [v for v in self.versions if not v.semver.pre] or self.versions
        return max(releases, key=lambda v: v.semver)


class Index(_Strict):
    """A whole marketplace index."""

    format: Literal[1] = Field(description="Format version of the index; 1.")
    extensions: list[IndexEntry] = Field(default_factory=list, description="Listed extensions.")

    @field_validator("extensions")
    @classmethod
    def _unique(cls, value: list[IndexEntry]) -> list[IndexEntry]:
        ids = [e.id for e in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"extension {dupes[0]!r} is listed twice")
        return value

    def get(self, ext_id: str) -> IndexEntry | None:
        return next((e for e in self.extensions if e.id == ext_id), None)

    def search(self, query: str) -> list[IndexEntry]:
        """The entries whose id, name or description contain every word of ``query``
        (case-insensitive; an empty query matches all), in index order."""
        words = query.lower().split()
        return [
            e
            for e in self.extensions
            if all(w in f"{e.id} {e.name} {e.description}".lower() for w in words)
        ]


def index_location(configured: str, root: Path) -> str | None:
    """Where ``extensions.marketplace`` points: an http(s) URL as it is, a path resolved
    against the workspace ``root`` (None: no index is configured)."""
    from engine.extensions.transfer import is_url, local_path

    if not configured:
        return None
    return configured if is_url(configured) else str(local_path(configured, root).resolve())


def _json_path(loc: tuple[int | str, ...]) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_index(data: bytes, source: str) -> Index:
    """Parse and validate an index's bytes; ``source`` names it in errors.

    Raises:
        MarketplaceError: not UTF-8 JSON, or not a valid index (the first problem, with its
            JSON path).
    """
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise MarketplaceError(
            f"not UTF-8 text ({e.reason} at byte {e.start})", source=source
        ) from e
    except json.JSONDecodeError as e:
        raise MarketplaceError(
            f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})", source=source
        ) from e
    try:
        return Index.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            reason = "unknown key"
        elif kind == "missing":
            reason = "required key is missing"
        else:
            reason = str(err["msg"]).removeprefix("Value error, ")
            value = err.get("input")
            if not isinstance(value, dict | list):
                reason = f"{reason} (got {value!r})"
        more = f" (and {len(e.errors()) - 1} more problems)" if len(e.errors()) > 1 else ""
        raise MarketplaceError(reason + more, source=source, location=_json_path(loc)) from None


def load_index(location: str, *, timeout: float = 30.0) -> Index:
    """Read and validate the index at a path or URL.

    Raises:
        TransferError: it cannot be read.
        MarketplaceError: it is malformed.
    """
    from engine.extensions.transfer import read_bytes

    return parse_index(read_bytes(location, max_bytes=MAX_INDEX_BYTES, timeout=timeout), location)


def render_index(index: Index) -> bytes:
    """The index as the JSON bytes ``carets publish`` writes (stable key order)."""
    data = index.model_dump(mode="json", exclude_defaults=False)
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def index_schema() -> dict[str, Any]:
    """The JSON Schema of indexes, as published in ``docs/marketplace-index.schema.json``."""
    from engine.extensions.manifest import published_schema

    return published_schema(Index, "Symphony marketplace index")


def render_schema() -> str:
    """The published schema file's exact text."""
    from engine.extensions.manifest import schema_text

    return schema_text(index_schema())


if __name__ == "__main__":
    print(render_schema(), end="")
