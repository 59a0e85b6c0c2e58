"""``carets``: the extension author CLI (SPEC §3.7).

Only ``carets version`` exists so far; scaffolding, validation, packing and publishing arrive
with the Orchestra Kit. The name is installed now so scripts can rely on it.
"""

from __future__ import annotations

import typer

from engine import __version__

app = typer.Typer(
    name="carets",
    help="Tools for Symphony extension authors. Sub-commands arrive with the Orchestra Kit.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
)


@app.callback()
def _root() -> None:
    """Keep sub-command dispatch even while there is a single command."""


@app.command()
def version() -> None:
    """Print the version of the SDK that carets belongs to."""
    typer.echo(f"carets {__version__}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="carets")
