"""The editor's fast unwrapped layout builds exactly Textual's tables, before and after edits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from textual.document._document import Document
from textual.document._wrapped_document import WrappedDocument

from symphony_tui.widgets.editor import _CachedHeightWrappedDocument

TABLES = ("_wrap_offsets", "_offset_to_line_info", "_line_index_to_offsets", "_tab_width_cache")

lines = st.lists(st.text(alphabet="ab \t界", max_size=12), max_size=20)


def tables(wrapped: WrappedDocument) -> tuple[object, ...]:
    return (*(getattr(wrapped, name) for name in TABLES), wrapped.height)


@settings(max_examples=200, deadline=None)
@given(lines, st.integers(1, 8), st.text(alphabet="x\t\n", max_size=6))
def test_unwrapped_tables_match_textual(rows: list[str], tab: int, insert: str) -> None:
    text = "\n".join(rows)
    ours_doc, theirs_doc = Document(text), Document(text)
    ours = _CachedHeightWrappedDocument(ours_doc, 0, tab)
    theirs = WrappedDocument(theirs_doc, 0, tab)
    assert tables(ours) == tables(theirs)
    # An edit re-wraps a range on top of the tables built above.
    for document, wrapped in ((ours_doc, ours), (theirs_doc, theirs)):
        result = document.replace_range((0, 0), (0, 0), insert)
        wrapped.wrap_range((0, 0), (0, 0), result.end_location)
    assert tables(ours) == tables(theirs)
    ours.wrap(0, tab + 1)
    theirs.wrap(0, tab + 1)
    assert tables(ours) == tables(theirs)
