"""Highlight queries the editor compiles must survive being freed (py-tree-sitter 0.26 corrupts
the heap freeing a query with ``#is-not?``; the crash shows only at a later allocation)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from symphony_tui.widgets.grammars import custom_grammar, safe_query

CHURN = textwrap.dedent(
    """
    import gc, sys
    from tree_sitter import Parser, Query, QueryCursor
    {setup}
    for _ in range(3):
        query = Query(language, source)
        tree = Parser(language).parse(b"const a: number = require('x'); console.log(a)")
        QueryCursor(query).captures(tree.root_node)
        del query, tree
        gc.collect()
        junk = [dict(a=i, b=str(i)) for i in range(200_000)]  # reuse the freed memory
        del junk
    print("survived")
    """
)


def churn(setup: str) -> subprocess.CompletedProcess[str]:
    code = CHURN.format(setup=textwrap.dedent(setup))
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_safe_query_drops_only_scope_predicates() -> None:
    query = '((identifier) @x\n (#match? @x "^a$")\n (#is-not? local))\n((y) @y (#is? local))'
    assert safe_query(query) == '((identifier) @x\n (#match? @x "^a$")\n )\n((y) @y )'


@pytest.mark.parametrize(
    ("language", "tsx"), [("javascript", False), ("typescript", False), ("typescript", True)]
)
def test_editor_queries_compile_and_free_cleanly(language: str, tsx: bool) -> None:
    setup = f"""
        from symphony_tui.widgets.grammars import custom_grammar
        language, source = custom_grammar({language!r}, tsx={tsx})
    """
    result = churn(setup)
    assert result.returncode == 0 and "survived" in result.stdout, result.stderr[-2000:]


def test_textual_query_as_shipped_would_crash() -> None:
    """The reason for safe_query: if this starts passing, py-tree-sitter fixed the bug and the
    workaround can go."""
    setup = """
        import tree_sitter_javascript
        from tree_sitter import Language
        from symphony_tui.widgets.grammars import _textual_query
        language, source = Language(tree_sitter_javascript.language()), _textual_query("javascript")
    """
    result = churn(setup)
    if result.returncode == 0:
        pytest.xfail("py-tree-sitter frees #is-not? queries cleanly now: safe_query can go")
    assert result.returncode < 0 or "Segmentation fault" in result.stderr


def test_grammars_are_shared() -> None:
    assert custom_grammar("typescript") is custom_grammar("typescript")
    assert custom_grammar("python") is None
