"""The permission review shown before an install or update: what an extension may do, and
what an update adds.

Pure functions over manifests; the CLI prints the lines and asks. An update *widens* the
permissions when it grants anything the installed version did not (a new glob, program,
variable, host or model) or moves from its own process into Symphony's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.extensions.manifest import Manifest

__all__ = ["LABELS", "grants", "review_lines", "widening"]

#: How each permission is named in the review.
LABELS = {
    "fs.read": "files read",
    "fs.write": "files written",
    "process": "processes",
    "env": "env variables",
    "network": "network hosts",
    "models": "AI models",
    "runtime": "runs",
}


def _isolation(manifest: Manifest) -> str:
    # The installer installs third-party extensions: unset means their own process.
    if manifest.runtime.isolation == "in-process":
        return "in Symphony's process"
    return "in its own process"


def grants(manifest: Manifest) -> dict[str, list[str]]:
    """What ``manifest`` grants, by permission name, plus where it runs (``runtime``)."""
    result = manifest.permissions.grants()
    result["runtime"] = [_isolation(manifest)]
    return result


def widening(old: Manifest, new: Manifest) -> dict[str, list[str]]:
    """What ``new`` grants that ``old`` did not, by permission name (empty: nothing new)."""
    before, after = grants(old), grants(new)
    added: dict[str, list[str]] = {}
    for name, values in after.items():
        if name == "runtime":
            if values != before[name] and new.runtime.isolation == "in-process":
                added[name] = values
            continue
        extra = [v for v in values if v not in before[name]]
        if extra:
            added[name] = extra
    return added


def review_lines(manifest: Manifest, previous: Manifest | None) -> list[str]:
    """The review of one extension: every permission of a new install, or for an update
    the permissions it adds (marked ``+``) — the lines, indented, without the heading."""
    width = max(len(label) for label in LABELS.values()) + 1
    if previous is None:
        return [
            f"  {LABELS[name] + ':':<{width}} {', '.join(values) or '-'}"
            for name, values in grants(manifest).items()
        ]
    added = widening(previous, manifest)
    if not added:
        return ["  permissions: unchanged or narrower"]
    return [
        f"+ {LABELS[name] + ':':<{width}} {', '.join(values)}" for name, values in added.items()
    ]
