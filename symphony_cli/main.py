"""Entry point of the ``symphony`` command.

``symphony [PATH]`` opens the TUI on PATH (default: the current folder); sub-commands run
headless. User errors print one clear message on stderr and exit 2 (SPEC §1 exit codes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine import __version__
from engine.types.errors import EXIT_FAILED, Interrupted, SymphonyError, UsageError
from symphony_cli import (
    artifacts_cmd,
    ask_cmd,
    chat_cmd,
    config_cmd,
    doctor,
    ext_cmd,
    mcp_cmd,
    melody_cmd,
    models_cmd,
    run_cmd,
    undo_cmd,
    watch_cmd,
)
from symphony_cli.output import emit_json, fail, out, resolve_workspace

app = typer.Typer(
    name="symphony",
    help="Symphony: a terminal-native, AI-first development environment.\n\n"
    "Run `symphony [PATH]` to open the workspace at PATH (default: the current folder).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(artifacts_cmd.app, name="artifacts")
app.add_typer(ext_cmd.app, name="ext")
app.add_typer(mcp_cmd.app, name="mcp")
app.add_typer(melody_cmd.app, name="melody")
app.command("run")(run_cmd.run)
app.add_typer(run_cmd.runs_app, name="runs")
app.command("ask")(ask_cmd.ask)
app.add_typer(models_cmd.app, name="models")
app.command("chat")(chat_cmd.chat)
app.command("watch")(watch_cmd.watch)
app.command("undo")(undo_cmd.undo)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a configuration value (highest layer), e.g. --set ide.theme=symphony-light."
        " Repeatable.",
    ),
]


@app.callback()
def _root(ctx: typer.Context, set_: SetOption = None) -> None:
    ctx.obj = {"overrides": list(set_ or [])}


@app.command("open", hidden=True)
def open_workspace(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Folder to open.")] = Path(),
) -> None:
    """Open the TUI on PATH."""
    from engine.config import load_config
    from symphony_cli.launch import run_tui

    workspace = resolve_workspace(path)
    overrides = ctx.obj["overrides"]
    # Validate configuration before the screen switches, so errors read like any CLI error.
    config = load_config(workspace, overrides=overrides)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the workspace UI needs an interactive terminal; "
            "for scripts use the sub-commands (symphony --help)"
        )
    raise SystemExit(run_tui(workspace, overrides, config))


@app.command()
def version(
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print Symphony's version."""
    import platform

    info = {"symphony": __version__, "python": platform.python_version(), "platform": sys.platform}
    if json_:
        emit_json(info)
    else:
        out(f"symphony {__version__} (Python {info['python']}, {info['platform']})")


app.command()(doctor.doctor)


_OPTIONS_WITH_VALUE = {"--set"}
# Checked against the real command table by tests/cli/test_cli.py.
SUBCOMMANDS = frozenset(
    {
        "open",
        "version",
        "doctor",
        "config",
        "artifacts",
        "ext",
        "mcp",
        "melody",
        "run",
        "runs",
        "ask",
        "models",
        "chat",
        "watch",
        "undo",
    }
)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move ``--set KEY=VALUE`` given after a sub-command to the front, where click expects it.

    ``symphony config show --set ide.theme=x`` then means what the user meant. Anything after
    ``--`` is left alone.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in _OPTIONS_WITH_VALUE and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 2
            continue
        if any(arg.startswith(opt + "=") for opt in _OPTIONS_WITH_VALUE):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def route(args: list[str]) -> list[str]:
    """Insert the hidden ``open`` command when the first positional is not a sub-command.

    Click cannot mix an optional positional argument with sub-commands on one group, so
    ``symphony``, ``symphony .`` and ``symphony --set k=v ~/proj`` are rewritten to ``open``.
    """
    args = hoist_global_options(args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-h", "--help"):
            return args
        if arg in _OPTIONS_WITH_VALUE:
            i += 2
            continue
        if arg == "--":
            return [*args[:i], "open", *args[i:]]
        if arg.startswith("-"):
            i += 1
            continue
        if arg in SUBCOMMANDS:
            return args
        return [*args[:i], "open", *args[i:]]
    return [*args, "open"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = route(list(sys.argv[1:] if argv is None else argv))
    try:
        app(args=args, prog_name="symphony")
    except SymphonyError as e:
        fail(e)
    except KeyboardInterrupt:
        fail(Interrupted("interrupted"))
    except BrokenPipeError:
        # The reader went away (`symphony artifacts get X | head`): stop quietly, like cat does,
        # and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(EXIT_FAILED) from None


if __name__ == "__main__":
    main()
