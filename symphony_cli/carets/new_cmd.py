"""``carets new NAME --type operator|instrument|motif``: scaffold a working extension.

The files come from the templates in ``templates/`` (package data): a manifest, a package with
one real step (an operator counting words, an instrument building prompts, a motif rendering a
panel), tests using :class:`symphony_sdk.testing.ExtensionHarness`, a README and a
``pytest.ini``. The result passes ``carets validate`` and ``carets test`` as it is. The folder
is written whole or not at all (staged beside it, then renamed).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import typer

from engine.extensions.manifest import ID_RE
from engine.types.errors import UsageError
from symphony_cli.output import out, say

__all__ = ["new", "scaffold"]

Kind = Literal["operator", "instrument", "motif"]

_DESCRIPTION = {
    "operator": "Count the lines, words and characters of a text file.",
    "instrument": "Build model prompts from a question and workspace files.",
    "motif": "A panel summarising the workspace's files by kind.",
}
_VERB = {"operator": "count", "instrument": "prompt", "motif": "summary"}
_EXAMPLE = {
    "operator": "--with path=README.md",
    "instrument": "--with question='What does this do?' --with files='[\"README.md\"]'",
    "motif": "--with pattern='**/*.py'",
}


def _files(module: str) -> dict[str, str]:
    """Target path → template (relative to ``templates/``; ``KIND`` is the type's folder)."""
    return {
        "symphony-extension.toml": "KIND/symphony-extension.toml.tmpl",
        f"{module}/__init__.py": "KIND/module.py.tmpl",
        f"tests/test_{module}.py": "KIND/test.py.tmpl",
        "README.md": "common/README.md.tmpl",
        "pytest.ini": "common/pytest.ini.tmpl",
    }


def _values(ext_id: str, kind: Kind) -> dict[str, str]:
    short = ext_id.rsplit(".", 1)[-1]
    words = [w for w in re.split(r"[._-]", ext_id) if w]
    cls = "".join(w.capitalize() for w in words) + kind.capitalize()
    module = re.sub(r"[^a-z0-9_]", "_", ext_id)
    return {
        "id": ext_id,
        "name": " ".join(w.capitalize() for w in re.split(r"[_-]", short) if w),
        "type": kind,
        "description": _DESCRIPTION[kind],
        "module": module if module[0].isalpha() else f"ext_{module}",
        "class": cls if cls[0].isalpha() else f"Ext{cls}",
        "short": short,
        "step": f"{short}.{_VERB[kind]}",
        "example": _EXAMPLE[kind],
    }


def scaffold(ext_id: str, kind: Kind, parent: Path) -> Path:
    """Create ``parent/<ext_id>/`` holding a working extension of type ``kind``.

    Raises:
        UsageError: the id is malformed or the folder exists.
    """
    if not re.match(ID_RE, ext_id):
        raise UsageError(
            f"{ext_id!r} is not an extension id: lowercase words of letters, digits, '_' or '-'"
            " joined by dots, e.g. 'acme.wordcount'"
        )
    folder = parent / ext_id
    if folder.exists() or folder.is_symlink():
        raise UsageError(f"{folder} already exists")
    values = _values(ext_id, kind)
    templates = resources.files("symphony_cli.carets") / "templates"
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{ext_id}.", dir=parent))
    try:
        for target, template in _files(values["module"]).items():
            text = (templates / template.replace("KIND", kind)).read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            path = staging / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.chmod(0o755)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def new(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Extension id, e.g. acme.wordcount.")],
    kind: Annotated[
        Kind, typer.Option("--type", "-t", help="operator, instrument or motif.")
    ] = "operator",
    directory: Annotated[
        Path, typer.Option("--dir", "-d", help="Where to create the folder (default: here).")
    ] = Path(),
) -> None:
    """Create a working extension with tests: NAME/ holding its manifest, code and tests."""
    folder = scaffold(name, kind, directory.expanduser())
    out(str(folder))
    values = _values(name, kind)
    say(f"created {kind} {name} in {folder} (step type {values['step']})")
    say(f"next: cd {folder} && carets validate && carets test")
