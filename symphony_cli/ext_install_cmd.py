"""``symphony ext install | update | remove | search``: the installer and the marketplace.

Every change is reviewed first: the permissions of a new extension (or what an update adds)
are printed on stderr and confirmed with y/N on a terminal; ``--yes`` accepts for scripts, and
without a terminal and ``--yes`` nothing happens (exit 2). The installer itself lives in
``engine.extensions.installer``; this module only asks, prints and maps errors to exit codes.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.types.errors import UsageError
from symphony_cli.output import WorkspaceOption, emit_json, load_workspace_config, out, say

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.extensions.installer import Installer
    from engine.extensions.plan import Plan

IndexOption = Annotated[
    str | None,
    typer.Option(
        "--index", help="Marketplace index (path or URL); default extensions.marketplace."
    ),
]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Accept the permission review without asking.")
]


def _index_location(option: str | None, configured: str, root: Path) -> str | None:
    """``--index`` (relative to the current folder) or ``extensions.marketplace`` (relative to
    the workspace); URLs as they are."""
    from engine.extensions.marketplace import index_location

    return index_location(option, Path.cwd()) if option else index_location(configured, root)


@contextmanager
def _installer(ctx: typer.Context, workspace: Path, index: str | None) -> Iterator[Installer]:
    from engine.extensions.installer import Installer
    from engine.extensions.service import extension_dirs, open_db

    root, loaded = load_workspace_config(ctx, workspace)
    config = loaded.config
    db = open_db(config)
    try:
        location = _index_location(index, config.extensions.marketplace, root)
        with Installer(extension_dirs(root, config), db, index=location) as installer:
            yield installer
    finally:
        db.close()


def show_review(plan: Plan) -> None:
    """Print the permission review of every candidate on stderr."""
    from engine.extensions.review import review_lines

    for c in plan.candidates:
        say(c.heading())
        if c.sha256:
            say(f"  sha256:        {c.sha256}")
        for dep, spec in c.manifest.extension.requires.items():
            say(f"  requires:      {dep} {spec}")
        for line in review_lines(c.manifest, c.previous.manifest if c.previous else None):
            say(line)


def confirm(question: str, yes: bool, what: str) -> bool:
    """Ask ``question`` (default no) unless ``yes``.

    Raises:
        UsageError: no terminal to ask on and no ``--yes``.
    """
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"{what} needs your confirmation, and there is no terminal to ask on;"
            " pass --yes to accept"
        )
    return typer.confirm(question, default=False, err=True)


def _apply(installer: Installer, plan: Plan, yes: bool) -> None:
    for note in plan.notes:
        say(note)
    if not plan.candidates:
        return
    show_review(plan)
    if plan.needs_confirmation and not confirm(
        "Install with these permissions?", yes, "installing new or wider permissions"
    ):
        say("nothing installed")
        raise typer.Exit(1)
    installer.commit(plan)
    for c in plan.candidates:
        state = "enabled" if c.enable or c.previous is None else "enabled state kept"
        say(f"installed {c.id} {c.version} in {installer.user_dir / c.id} ({state})")


def install(
    ctx: typer.Context,
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH|ARCHIVE|ID[@VERSION]…",
            help="Extension folders, .tar.gz archives or ids from the marketplace index.",
        ),
    ],
    index: IndexOption = None,
    yes: YesOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Install extensions (and what they require) after a permission review."""
    with _installer(ctx, workspace, index) as installer:
        _apply(installer, installer.plan_install(targets), yes)


def update(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]…", help="Default: every installed one.")
    ] = None,
    index: IndexOption = None,
    yes: YesOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Update installed extensions to the newest index version; asks again only when an
    update grants more permissions."""
    with _installer(ctx, workspace, index) as installer:
        plan = installer.plan_update(list(ids or []))
        if not plan.candidates and not plan.notes:
            say("no extensions installed by the installer")
        _apply(installer, plan, yes)


def remove(
    ctx: typer.Context,
    ext_id: Annotated[str, typer.Argument(metavar="ID", help="Extension id.")],
    yes: YesOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Remove it even though installed extensions require it.")
    ] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Remove an installed extension (refused while others require it, unless --force)."""
    with _installer(ctx, workspace, None) as installer:
        removal = installer.plan_remove(ext_id, force=force)
        have = removal.installed
        if have is None:
            say(f"{ext_id}: its folder is gone; forgetting it")
        else:
            say(f"Remove {ext_id} {have.version} ({have.where()})")
            for dependent in removal.dependents:
                say(f"  warning: {dependent}; it will fail to load")
            if not confirm(f"Remove {ext_id}?", yes, f"removing {ext_id}"):
                say("nothing removed")
                raise typer.Exit(1)
        installer.commit_remove(removal)
        say(f"removed {ext_id}")


def search(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help="Words to find in ids, names and descriptions.")
    ] = "",
    index: IndexOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """List the marketplace index's extensions matching QUERY, with what is installed."""
    with _installer(ctx, workspace, index) as installer:
        words = query.split()
        entries = installer.index().search(query)
        installed = {i: str(x.version) for i, x in installer.installed.items()}
    if json_:
        emit_json(
            [
                {
                    **e.model_dump(mode="json"),
                    "latest": e.latest().version,
                    "installed": installed.get(e.id),
                }
                for e in entries
            ]
        )
        return
    if not entries:
        out("no extensions match" if words else "the index lists no extensions")
        return
    width = max(len(e.id) for e in entries)
    out(f"{'ID':<{width}}  {'VERSION':<9} {'TYPE':<10} {'INSTALLED':<10} DESCRIPTION")
    for e in entries:
        out(
            f"{e.id:<{width}}  {e.latest().version:<9} {e.type:<10}"
            f" {installed.get(e.id, '-'):<10} {e.description}"
        )
