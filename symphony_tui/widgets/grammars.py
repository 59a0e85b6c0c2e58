"""Tree-sitter grammars and highlight queries for the editor, safe to compile.

Textual ships grammars and highlight queries for most languages the editor knows. Two need
help:

- JavaScript: Textual's query uses ``(#is-not? local)``, a predicate py-tree-sitter 0.26 cannot
  free: the query compiles and highlights, but deallocating it corrupts the heap and a later
  allocation segfaults (reproduced here: compile, ``del``, ``gc.collect()``, import a module).
  Neither py-tree-sitter nor Textual implements scope-aware ``is``/``is-not`` predicates anyway,
  so they are removed before compiling; the highlighting is the same.
- TypeScript/TSX: not among Textual's languages; ``tree-sitter-typescript``'s own query only
  adds TypeScript's nodes to JavaScript's, so the two are combined.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["custom_grammar", "grammar_installed", "safe_query"]

#: ``(#is? …)`` / ``(#is-not? …)`` predicates (scope checks against locals queries).
_SCOPE_PREDICATE = re.compile(r"\(#is(?:-not)?\?[^()]*\)")


def safe_query(query: str) -> str:
    """``query`` without the scope predicates py-tree-sitter mishandles (see the module doc)."""
    return _SCOPE_PREDICATE.sub("", query)


def grammar_installed(language: str) -> bool:
    """Whether Textual can load a grammar for ``language``."""
    from textual._tree_sitter import get_language

    return get_language(language) is not None


def _textual_query(language: str) -> str:
    base = Path(import_module("textual").__file__ or "").parent / "tree-sitter" / "highlights"
    return (base / f"{language}.scm").read_text(encoding="utf-8")


@cache
def custom_grammar(language: str, *, tsx: bool = False) -> tuple[Any, str] | None:
    """The grammar and highlight query the editor registers itself for ``language``, or None
    when Textual's own are fine (or the grammar package is not installed)."""
    if language not in ("javascript", "typescript"):
        return None
    from tree_sitter import Language

    try:
        module = import_module(f"tree_sitter_{language}")
    except ImportError:
        return None
    query = safe_query(_textual_query("javascript"))
    if language == "javascript":
        return Language(module.language()), query
    extra = Path(module.__file__ or "").parent / "queries" / "highlights.scm"
    if extra.exists():
        query += "\n" + safe_query(extra.read_text(encoding="utf-8"))
    grammar = module.language_tsx() if tsx else module.language_typescript()
    return Language(grammar), query
