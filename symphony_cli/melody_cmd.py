"""``symphony melody …``: check melody files.

``validate`` parses a melody (a file, or a NAME in ``.symphony/melodies/``) and checks it against
the step types of the workspace's enabled extensions, which it learns by starting the engine
headless; it prints every problem with file, location and reason and exits 2 when there is any.
Imports of the engine happen inside the command so ``symphony --help`` stays lean.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from symphony_cli.output import WorkspaceOption, emit_json, fail, out, resolve_workspace, say

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.extensions.manifest import StepTypeSpec
    from engine.melody import Melody, MelodyError

app = typer.Typer(help="Check melodies.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="A parameter value for the run being checked (read as a TOML value unless the"
        " parameter is a string). Repeatable.",
    ),
]


@app.callback()
def _group() -> None:
    # A callback keeps `validate` a sub-command even while it is the group's only one.
    pass


def _overrides(ctx: typer.Context) -> list[str]:
    obj = ctx.find_root().obj
    return list(obj.get("overrides", [])) if isinstance(obj, dict) else []


def _step_types(ctx: typer.Context, workspace: Path) -> dict[str, StepTypeSpec]:
    """The step types of the workspace's enabled extensions (the first provider of each)."""
    from engine.runtime import Engine

    engine = Engine(workspace, overrides=_overrides(ctx), watch_config=False)
    engine.start()
    try:
        providers = engine.extensions.step_types()
    finally:
        engine.stop()
    return {name: specs[0][1] for name, specs in providers.items() if specs}


def parse_params(raw: Sequence[str], melody: Melody) -> dict[str, Any]:
    """``NAME=VALUE`` strings as parameter values.

    A value is read as a TOML value (``3``, ``true``, ``["a"]``) unless the melody declares the
    parameter a string, which keeps the text as typed.

    Raises:
        UsageError: an item has no ``=`` or an empty name.
    """
    from engine.config.sources import parse_value
    from engine.types.errors import UsageError

    values: dict[str, Any] = {}
    for item in raw:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE")
        spec = melody.params.get(name)
        values[name] = text if spec is not None and spec.type == "string" else parse_value(text)
    return values


def _display(path: Path) -> str:
    """The path relative to the current folder when it is inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _report(errors: Sequence[MelodyError], melody: Melody | None, json_: bool) -> None:
    if json_:
        emit_json(
            {
                "valid": False,
                "melody": melody.name if melody is not None else None,
                "errors": [e.to_dict() for e in errors],
                "steps": len(melody.steps) if melody is not None else None,
                "layers": None,
            }
        )
    else:
        for e in errors:
            say(f"symphony: error: {e.message}")
    raise typer.Exit(errors[0].exit_code)


@app.command()
def validate(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_NAME",
            help="A melody file, or the NAME of .symphony/melodies/NAME.(toml|yaml|yml|json).",
        ),
    ],
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
    param: ParamOption = None,
) -> None:
    """Check a melody; print every problem with file, location and reason (exit 2)."""
    from engine.types.errors import SymphonyError

    try:
        _validate(ctx, target, json_=json_, workspace=workspace, raw_params=param or [])
    except SymphonyError as e:
        fail(e)


def _validate(
    ctx: typer.Context, target: str, *, json_: bool, workspace: Path, raw_params: list[str]
) -> None:
    from engine.melody import Dag, MelodyError, MelodyErrors, find_melody, load_melody, validate

    root = resolve_workspace(workspace)
    path = find_melody(root, target)
    source = _display(path)
    try:
        melody = load_melody(path, source=source)
    except MelodyError as e:
        _report(e.errors if isinstance(e, MelodyErrors) else [e], None, json_)
        return
    given: Mapping[str, Any] = parse_params(raw_params, melody)
    problems = validate(melody, source=source, step_types=_step_types(ctx, root), params=given)
    if problems:
        _report(problems, melody, json_)
        return
    layers = len(Dag.from_melody(melody).layers)
    if json_:
        emit_json(
            {
                "valid": True,
                "melody": melody.name,
                "errors": [],
                "steps": len(melody.steps),
                "layers": layers,
            }
        )
    else:
        counts = f"{_plural(len(melody.steps), 'step')}, {_plural(layers, 'layer')}"
        out(f"{melody.name}: valid ({counts})")
