"""Where an artifact's bytes live inside a store root, for every tier.

::

    <root>/pit.db                          metadata (SQLite, WAL)
    <root>/blobs/ab/cd/<hash>              hot: the content as is
    <root>/warm/ab/cd/<hash>.zst           warm: zstd-compressed content
    <cold_url>/ab/<hash>                   cold: a copy at any fsspec URL
    <root>/tmp/                            temp files of writes in progress

Two levels of two-hex-digit shards keep folders small at millions of artifacts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

DB_NAME = "pit.db"
HOT_DIR = "blobs"
WARM_DIR = "warm"
TMP_DIR = "tmp"
WARM_SUFFIX = ".zst"


def hot_path(root: Path, digest: str) -> Path:
    """Path of the plain blob."""
    return root / HOT_DIR / digest[:2] / digest[2:4] / digest


def warm_path(root: Path, digest: str) -> Path:
    """Path of the zstd-compressed blob."""
    return root / WARM_DIR / digest[:2] / digest[2:4] / (digest + WARM_SUFFIX)


def cold_url(base_url: str, digest: str) -> str:
    """fsspec URL of the cold copy under ``base_url``."""
    return f"{base_url.rstrip('/')}/{digest[:2]}/{digest}"


def tmp_dir(root: Path) -> Path:
    """Folder for temp files; on the same filesystem as the blobs so rename is atomic."""
    return root / TMP_DIR
