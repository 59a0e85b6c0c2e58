"""Which tree-sitter language a file is written in, from its name, suffix or ``#!`` line.

Names are those of the ``tree_sitter_<name>`` grammar packages Textual loads. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["language_for"]

# fmt: off
LANGUAGES_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".json": "json", ".jsonc": "json",
    ".toml": "toml",
    ".yaml": "yaml", ".yml": "yaml",
    ".md": "markdown", ".markdown": "markdown",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
    ".rs": "rust",
    ".go": "go",
    ".sh": "bash", ".bash": "bash", ".zsh": "bash", ".ksh": "bash",
    ".html": "html", ".htm": "html", ".css": "css", ".sql": "sql", ".java": "java",
    ".xml": "xml", ".svg": "xml",
}
LANGUAGES_BY_NAME = {
    ".bashrc": "bash", ".bash_profile": "bash", ".profile": "bash", ".zshrc": "bash",
    "Pipfile": "toml", "Cargo.lock": "toml", "uv.lock": "toml", "poetry.lock": "toml",
}
# fmt: on
_INTERPRETERS = {
    "python": "python",
    "bash": "bash",
    "sh": "bash",
    "zsh": "bash",
    "node": "javascript",
}
_INTERPRETER = re.compile(r"(python|bash|sh|zsh|node)(?:[\d.]*)$")


def language_for(path: Path, first_line: str = "") -> str | None:
    """The tree-sitter language for ``path``, by name, suffix, then a ``#!`` line."""
    if path.name in LANGUAGES_BY_NAME:
        return LANGUAGES_BY_NAME[path.name]
    if path.suffix.lower() in LANGUAGES_BY_SUFFIX:
        return LANGUAGES_BY_SUFFIX[path.suffix.lower()]
    if not first_line.startswith("#!"):
        return None
    words = first_line[2:].split()
    if words and words[0].endswith("/env"):
        words = [w for w in words[1:] if not w.startswith("-")]
    match = _INTERPRETER.match(words[0].rsplit("/", 1)[-1]) if words else None
    return _INTERPRETERS[match.group(1)] if match else None
