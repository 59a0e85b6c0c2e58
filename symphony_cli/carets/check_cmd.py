"""``carets validate`` and ``carets test``: is the extension in a folder ready to ship?

``validate`` checks the manifest (every problem as ``file: key: reason``, exit 2), then loads
the extension exactly as Symphony does — through :class:`symphony_sdk.testing.ExtensionHarness`,
i.e. the real manager against a throw-away workspace — so an entry that does not import, a class
of the wrong type, or a step type declared but not implemented (or the reverse) fails it (exit
1). ``test`` runs the extension's ``tests/`` with pytest in a subprocess of this interpreter and
exits with pytest's status.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from engine.types.errors import ExtensionError, ManifestErrors, UsageError
from symphony_cli.output import out, say

__all__ = ["check", "extension_folder", "pytest_command", "test", "validate"]

PathArgument = Annotated[
    Path, typer.Argument(help="The extension's folder (default: the current folder).")
]


def extension_folder(path: Path) -> Path:
    """The extension folder named by ``path`` (its manifest file names its folder).

    Raises:
        UsageError: no such folder.
    """
    from engine.extensions.manifest import MANIFEST_NAME

    folder = path.expanduser().resolve()
    if folder.name == MANIFEST_NAME:
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{path}: no such folder")
    return folder


def check(folder: Path) -> str:
    """Validate and load the extension in ``folder``; a one-line summary of what is in it.

    Raises:
        ManifestError: the manifest is invalid.
        ExtensionError: the extension does not load (the manager's reason).
    """
    from engine.extensions.manifest import MANIFEST_NAME, load_manifest
    from symphony_sdk.testing import ExtensionHarness

    manifest, _digest = load_manifest(folder / MANIFEST_NAME)
    with (
        tempfile.TemporaryDirectory(prefix="carets-validate-") as ws,
        ExtensionHarness(folder, Path(ws)) as harness,
    ):
        status = harness.status
    if status.state == "failed":
        raise ExtensionError(
            f"{folder / MANIFEST_NAME}: {manifest.id} does not load: {status.reason}"
        )
    steps = ", ".join(s.type for s in manifest.contributes.steps) or "no step types"
    return f"{manifest.id} {manifest.extension.version}: valid ({steps})"


def validate(path: PathArgument = Path()) -> None:
    """Check the manifest, import the entry and match its @step methods to the manifest."""
    folder = extension_folder(path)
    try:
        out(check(folder))
    except ManifestErrors as e:  # every problem, one per line
        for error in e.errors:
            say(f"carets: error: {error.message}")
        raise typer.Exit(e.exit_code) from None


def pytest_command(folder: Path, args: list[str]) -> list[str]:
    """The command running the extension's tests with this interpreter: its own
    ``pytest.ini`` when it has one, never the configuration of a project around it."""
    command = [sys.executable, "-m", "pytest", "--rootdir", str(folder), "-p", "no:cacheprovider"]
    ini = folder / "pytest.ini"
    if ini.is_file():
        command += ["-c", str(ini)]
    return command + (args or [str(folder / "tests")])


def test(ctx: typer.Context) -> None:
    """Run the extension's tests (pytest, with this Python); exit with pytest's status.

    A first argument naming an extension's folder is PATH (default: the current folder); the
    others go to pytest (so `carets test tests/test_x.py -x` works inside the folder).
    """
    from engine.extensions.manifest import MANIFEST_NAME

    args = list(ctx.args)
    path = Path()
    first = Path(args[0]).expanduser() if args and not args[0].startswith("-") else None
    if first is not None and first.is_dir():
        here_is_extension = (Path.cwd() / MANIFEST_NAME).is_file()
        if (first / MANIFEST_NAME).is_file() or not here_is_extension:
            path = Path(args.pop(0))
    folder = extension_folder(path)
    if not (folder / "tests").is_dir():
        raise UsageError(f"{folder}: no tests/ folder (carets new creates one)")
    result = subprocess.run(pytest_command(folder, args), cwd=folder, check=False)
    raise typer.Exit(result.returncode)
