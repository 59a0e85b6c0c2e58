"""``carets pack`` and ``carets publish``: the archive, its SHA-256, and the index entry.

``pack`` writes ``<id>-<version>.tar.gz`` (reproducible: the same folder gives the same bytes)
and ``<archive>.sha256`` in ``sha256sum`` format, and prints the hash. ``publish`` puts the
archive next to a marketplace index (a file, or an http(s) URL taking ``PUT``) and adds or
replaces that version's entry (see :mod:`engine.extensions.publish`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from symphony_cli.carets.check_cmd import PathArgument, extension_folder
from symphony_cli.output import out, say

__all__ = ["pack", "publish"]


def pack(
    path: PathArgument = Path(),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder for the archive (default: dist/ in it)."),
    ] = None,
) -> None:
    """Make the extension's .tar.gz archive and ARCHIVE.sha256; print the SHA-256."""
    from engine.extensions.archive import pack as pack_folder
    from engine.extensions.archive import sha256_file
    from engine.files.atomic import write_atomic

    folder = extension_folder(path)
    archive = pack_folder(folder, (output or folder / "dist").expanduser().resolve())
    sha = sha256_file(archive)
    write_atomic(archive.with_name(archive.name + ".sha256"), f"{sha}  {archive.name}\n".encode())
    out(f"{sha}  {archive}")
    say(f"packed {archive.name} ({archive.stat().st_size} bytes); sha256 in {archive.name}.sha256")


def publish(
    archive: Annotated[Path, typer.Argument(help="The .tar.gz made by carets pack.")],
    index: Annotated[
        str, typer.Option("--index", help="The index: a JSON file (created if missing) or URL.")
    ],
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="URL clients download archives from, if not the index's."),
    ] = None,
) -> None:
    """Add the archive's version to a marketplace index (or replace that version's entry)."""
    from engine.extensions.publish import publish as publish_archive
    from engine.extensions.transfer import is_url, local_path
    from engine.types.errors import UsageError

    if not archive.is_file():
        raise UsageError(f"{archive}: no such archive")
    location = index if is_url(index) else str(local_path(index, Path.cwd()).resolve())
    done = publish_archive(archive.resolve(), location, base_url=base_url)
    verb = "replaced" if done.replaced else "added"
    out(location)
    say(
        f"published {done.id} {done.version}: {verb} its entry in {location}; archive at"
        f" {done.archive_location} (sha256 {done.sha256})"
    )
