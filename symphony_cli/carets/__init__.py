"""``carets``: the extension author CLI (SPEC §3.7).

``carets new`` scaffolds a working extension with tests, ``validate`` checks it (manifest,
entry importable, every step type implemented), ``test`` runs its tests, ``pack`` makes the
reproducible archive and its SHA-256, ``publish`` adds it to a marketplace index, and ``dev``
links a working copy into Symphony and re-checks it on every change. Errors print one line
(``carets: error: …``) and exit with the error's code: 2 for bad input, 1 for failures.
"""

from __future__ import annotations

import sys

import typer

from engine import __version__
from engine.types.errors import Interrupted, SymphonyError
from symphony_cli.carets import check_cmd, dev_cmd, new_cmd, pack_cmd
from symphony_cli.output import fail

app = typer.Typer(
    name="carets",
    help="Tools for Symphony extension authors: scaffold, check, test, pack, publish, develop.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("new")(new_cmd.new)
app.command("validate")(check_cmd.validate)
app.command(
    "test",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    options_metavar="[PATH] [PYTEST_ARGS]...",
)(check_cmd.test)
app.command("pack")(pack_cmd.pack)
app.command("publish")(pack_cmd.publish)
app.command("dev")(dev_cmd.dev)


@app.command()
def version() -> None:
    """Print the version of the SDK that carets belongs to."""
    typer.echo(f"carets {__version__}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args, prog_name="carets")
    except SymphonyError as e:
        fail(e, "carets")
    except KeyboardInterrupt:
        fail(Interrupted("interrupted"), "carets")
