"""``symphony artifacts …``: the artifact store from the shell.

stdout carries data (``--json`` for scripts, plain text otherwise); progress bars and notes go
to stderr. References accept a full hash, a unique prefix (4+ hex digits), ``NAME`` (latest
version) or ``NAME@N``.
"""

from __future__ import annotations

import re
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from engine.types.errors import EXIT_FAILED, UsageError
from symphony_cli.output import WorkspaceOption, emit_json, load_workspace_config, out, say
from symphony_cli.progress import progress

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.config import ArtifactRetention
    from engine.pit.artifacts.models import ArtifactInfo
    from engine.pit.artifacts.store import ArtifactStore

app = typer.Typer(help="Store, find and inspect artifacts.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RefArgument = Annotated[str, typer.Argument(help="Hash, unique hash prefix, NAME or NAME@N.")]


@contextmanager
def _store_and_retention(
    ctx: typer.Context, workspace: Path
) -> Iterator[tuple[ArtifactStore, ArtifactRetention]]:
    from engine.pit.artifacts.store import ArtifactStore

    root, loaded = load_workspace_config(ctx, workspace)
    retention = loaded.config.aide.artifacts
    store = ArtifactStore.for_workspace(root, retention)
    try:
        yield store, retention
    finally:
        store.close()


@contextmanager
def _store(ctx: typer.Context, workspace: Path) -> Iterator[ArtifactStore]:
    with _store_and_retention(ctx, workspace) as (store, _retention):
        yield store


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, *, now: float | None = None) -> float:
    """A time from ``7d`` / ``12h`` / ``30m`` (ago) or an ISO date/time; UsageError otherwise."""
    match = _RELATIVE.match(text.strip())
    if match:
        return (now if now is not None else time.time()) - float(match[1]) * _UNIT_S[match[2]]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(
            f"--since {text!r}: use a date (2026-11-01), a date-time, or an age like 7d, 12h, 30m"
        ) from None


def _describe(info: ArtifactInfo) -> list[str]:
    lines = [
        f"hash:       {info.hash}",
        f"size:       {_size(info.size)} ({info.size} bytes)",
        f"type:       {info.media_type}",
        f"created:    {_when(info.created_at)}",
        f"tier:       {info.tier.value}"
        + (f" ({_size(info.stored_size)} stored)" if info.tier != "hot" else ""),
        f"pinned:     {'yes' if info.pinned else 'no'}",
        f"accessed:   {info.access_count} time(s), last {_when(info.last_access)}",
    ]
    if info.names:
        lines.append(f"names:      {', '.join(info.names)}")
    if info.tags:
        lines.append(f"tags:       {', '.join(info.tags)}")
    for p in info.producers:
        parts = [f"{k}={v}" for k, v in msgspec.structs.asdict(p).items() if v]
        lines.append(f"producer:   {' '.join(parts) or '-'}")
    for parent in info.inputs:
        lines.append(f"input:      {parent}")
    return lines


@app.command()
def put(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Files to store; - reads stdin.")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (adds a version).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag; repeatable.")] = None,
    media_type: Annotated[
        str | None, typer.Option("--type", help="Media type (default: guessed).")
    ] = None,
    input_: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="Artifact this was made from.")
    ] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Store files (deduplicated by content) and print their hashes."""
    if name is not None and len(files) > 1:
        raise UsageError("--name applies to one file; store files one at a time to name them")
    for f in files:
        if str(f) != "-" and not f.is_file():
            raise UsageError(f"{f}: no such file" if not f.exists() else f"{f}: not a regular file")
    results = []
    with _store(ctx, workspace) as store, progress("storing", enabled=len(files) > 1) as update:
        inputs = tuple(store.resolve(ref) for ref in input_ or ())
        for index, f in enumerate(files):
            common: dict[str, Any] = {
                "name": name,
                "tags": tuple(tag or ()),
                "media_type": media_type,
                "inputs": inputs,
            }
            try:
                if str(f) == "-":
                    info = store.put_stream(sys.stdin.buffer, **common)
                else:
                    info = store.put_file(f, **common)
            except OSError as e:
                raise UsageError(f"{f}: cannot read: {e.strerror or e}") from e
            results.append((f, info))
            update(index + 1, len(files))
    if json_:
        emit_json([{"file": str(f), **_plain(info)} for f, info in results])
        return
    for f, info in results:
        label = f" {info.names[-1]}" if name and info.names else ""
        out(f"{info.hash}  {f}{label}")


@app.command()
def get(
    ctx: typer.Context,
    ref: RefArgument,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomic).")
    ] = None,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Write an artifact's content to stdout or a file."""
    with _store(ctx, workspace) as store:
        if output is not None:
            store.export(ref, output)
            say(f"wrote {output}")
            return
        with store.open(ref) as fh:
            sink = sys.stdout.buffer
            while chunk := fh.read(1 << 20):
                sink.write(chunk)
            sink.flush()


@app.command()
def show(
    ctx: typer.Context,
    ref: RefArgument,
    versions: Annotated[
        bool, typer.Option("--versions", help="List the version chain of a named artifact.")
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Show an artifact's metadata, lineage and tier (or a name's versions)."""
    with _store(ctx, workspace) as store:
        if versions:
            chain = store.versions(re.sub(r"@\d+$", "", ref))  # names may contain '@'
            if json_:
                emit_json(_plain(chain))
                return
            for v in chain:
                out(f"{v.name}@{v.version}  {v.hash}  {_when(v.created_at)}")
            return
        info = store.info(ref)
        children = [e.child for e in store.lineage(info.hash, direction="down", depth=1)]
    if json_:
        emit_json({**_plain(info), "outputs": children})
        return
    for line in _describe(info):
        out(line)
    for child in children:
        out(f"output:     {child}")


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help="Words to find (a trailing * matches prefixes).")
    ] = "",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Only with this tag.")
    ] = None,
    media_type: Annotated[
        str | None, typer.Option("--type", help="Only this media type (text/* for a family).")
    ] = None,
    producer: Annotated[
        str | None, typer.Option("--producer", help="Only made by this run, node or extension.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only newer than a date or age (7d, 12h).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Find artifacts by words in their content and metadata, best match first."""
    after = parse_since(since) if since else None
    with _store(ctx, workspace) as store:
        hits = store.search(
            query,
            tags=tuple(tag or ()),
            media_type=media_type,
            producer=producer,
            since=after,
            limit=limit,
        )
    if json_:
        emit_json(_plain(hits))
        return
    if not hits:
        say("no artifacts match")
        return
    for hit in hits:
        label = ", ".join(hit.names) or hit.media_type
        out(f"{hit.hash[:12]}  {_when(hit.created_at)}  {_size(hit.size):>9}  {label}")
        if hit.snippet:
            out("    " + " ".join(hit.snippet.split()))


@app.command()
def lineage(
    ctx: typer.Context,
    ref: RefArgument,
    up: Annotated[bool, typer.Option("--up", help="Only what it was made from.")] = False,
    down: Annotated[bool, typer.Option("--down", help="Only what was made from it.")] = False,
    depth: Annotated[int | None, typer.Option("--depth", min=1, help="Levels to follow.")] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Show where an artifact came from and what was made from it."""
    if up and down:
        raise UsageError("--up and --down exclude each other (omit both for both directions)")
    directions = ["up"] if up else ["down"] if down else ["up", "down"]
    with _store(ctx, workspace) as store:
        digest = store.resolve(ref)
        found = {d: store.lineage(digest, direction=d, depth=depth) for d in directions}  # type: ignore[arg-type]
    if json_:
        emit_json({"hash": digest, **{d: _plain(edges) for d, edges in found.items()}})
        return
    out(digest)
    for d, edges in found.items():
        out("  made from:" if d == "up" else "  made into:")
        if not edges:
            out("    (nothing)")
        for e in sorted(edges, key=lambda e: (e.depth, e.parent, e.child)):
            other, arrow = (e.parent, "<-") if d == "up" else (e.child, "->")
            out(f"{'  ' * (e.depth + 1)}{arrow} {other}")


@app.command()
def verify(
    ctx: typer.Context,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Re-hash every stored artifact; exit 1 if one is missing or corrupt."""
    with _store(ctx, workspace) as store, progress("verifying", enabled=not json_) as update:
        report = store.verify(progress=update)
    if json_:
        emit_json({**_plain(report), "ok": report.ok})
    else:
        for p in report.problems:
            out(f"{p.hash}  {p.tier.value}  {p.problem}")
        for orphan in report.orphans:
            out(f"orphan file (no artifact): {orphan}  (symphony artifacts gc removes it)")
        status = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        say(f"checked {report.checked} artifact(s), {_size(report.bytes_checked)}: {status}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def gc(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Remove stored files no artifact refers to (leftovers of interrupted writes)."""
    with _store(ctx, workspace) as store, progress("collecting", enabled=not json_) as update:
        report = store.gc(dry_run=dry_run, progress=update)
    if json_:
        emit_json(_plain(report))
        return
    verb = "would remove" if dry_run else "removed"
    for path in report.removed_files:
        out(f"{verb} {path}")
    say(f"{verb} {len(report.removed_files)} file(s), {_size(report.freed_bytes)}")


@app.command()
def tier(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would move, and why.")
    ] = False,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Move old, unused artifacts hot → warm → cold (or delete them) per aide.artifacts."""
    from engine.pit.stale import StaleManager

    with _store_and_retention(ctx, workspace) as (store, retention):
        manager = StaleManager(store.db, store.tiers(), retention)
        plan = manager.plan()
        if dry_run:
            if json_:
                emit_json(_plain(plan))
                return
            for move in plan:
                route = f"{move.src.value} -> {move.dst.value}"
                out(f"{move.hash[:12]}  {route:<15} {_size(move.size):>9}  {move.reason}")
            say(f"{len(plan)} move(s) planned; nothing changed (--dry-run)")
            return
        with progress("moving", enabled=not json_) as update:
            report = manager.apply(plan, progress=update)
    if json_:
        emit_json(_plain(report))
    else:
        for move in report.moved:
            out(f"{move.hash[:12]}  {move.src.value} -> {move.dst.value}  {move.reason}")
        for move, why in report.skipped:
            out(f"{move.hash[:12]}  skipped {move.src.value} -> {move.dst.value}: {why}")
        for move, error in report.failed:
            out(f"{move.hash[:12]}  FAILED {move.src.value} -> {move.dst.value}: {error}")
        freed = _size(report.freed_local_bytes)
        say(
            f"moved {len(report.moved)}, skipped {len(report.skipped)},"
            f" failed {len(report.failed)}, freed {freed} locally"
        )
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def pin(ctx: typer.Context, ref: RefArgument, workspace: WorkspaceOption = Path()) -> None:
    """Keep an artifact hot and never tier or delete it."""
    with _store(ctx, workspace) as store:
        store.pin(ref)
        out(store.resolve(ref))


@app.command()
def unpin(ctx: typer.Context, ref: RefArgument, workspace: WorkspaceOption = Path()) -> None:
    """Let tiering manage an artifact again."""
    with _store(ctx, workspace) as store:
        store.unpin(ref)
        out(store.resolve(ref))
