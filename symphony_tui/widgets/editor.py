"""The code editor: a file in a tree-sitter highlighted TextArea, with a find/replace bar.

An :class:`Editor` owns one file: it loads it (keeping encoding, newline style and final
newline), tracks unsaved edits, saves atomically and watches the file on disk. It tells its
screen about changes with messages (:class:`Editor.DirtyChanged`, :class:`Editor.DiskChanged`)
and never opens dialogs itself: the screen decides what to ask.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual import on
from textual._text_area_theme import TextAreaTheme
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.document._document import Document, EditResult, Location, Selection
from textual.document._wrapped_document import WrappedDocument
from textual.expand_tabs import get_tab_widths
from textual.geometry import Offset, Size
from textual.message import Message
from textual.widgets import Button, Input, Label, TextArea, _text_area
from textual.widgets.text_area import LanguageDoesNotExist

from engine.files.atomic import write_atomic
from engine.files.languages import language_for
from engine.files.recovery import file_sha256
from engine.files.text import DecodedText, decode_text, encode_text, looks_binary
from symphony_tui.widgets.grammars import custom_grammar, grammar_installed

if TYPE_CHECKING:
    from pathlib import Path

    from textual.app import ComposeResult

    from engine.config.models import EditorConfig

#: Files larger than this open read-only.
EDIT_LIMIT = 20 * 1024 * 1024
#: Larger files are edited as plain text: Textual re-parses the whole file through a Python
#: callback on every keystroke (about 20 ms per MB here), so highlighting stops being cheap.
SYNTAX_LIMIT = 2 * 1024 * 1024
#: How often open files are checked for changes on disk, in seconds.
POLL_INTERVAL = 1.0
#: Above this size undoing back to the saved text still counts as unsaved (comparing is O(n)).
CLEAN_CHECK_LIMIT = 1_000_000
#: The find bar stops counting here.
MAX_MATCHES = 10_000


# Syntax colours that read well on the app's dark and light themes; everything else (background,
# gutter, cursor, selection) comes from the theme's CSS variables ("css" theme behaviour).
_DARK = TextAreaTheme.get_builtin_theme("vscode_dark")
_LIGHT = TextAreaTheme.get_builtin_theme("github_light")
CODE_THEMES = {
    True: TextAreaTheme("symphony-code-dark", syntax_styles=_DARK.syntax_styles if _DARK else {}),
    False: TextAreaTheme(
        "symphony-code-light", syntax_styles=_LIGHT.syntax_styles if _LIGHT else {}
    ),
}


@dataclass(frozen=True)
class DiskState:
    """What the editor last saw of its file on disk."""

    mtime_ns: int
    size: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> DiskState | None:
        """The file's state now, or None if it does not exist."""
        try:
            st = path.stat()
        except OSError:
            return None
        return cls(st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True)
class LoadedFile:
    """A file read for editing: its text, or why it can only be previewed."""

    decoded: DecodedText | None
    reason: str = ""
    sha256: str | None = None  # of the bytes read (crash recovery compares it later)


def read_for_editing(path: Path) -> LoadedFile:
    """Read ``path`` for the editor; ``decoded`` is None for binary, huge or unreadable files."""
    try:
        size = path.stat().st_size
        if size > EDIT_LIMIT:
            return LoadedFile(None, f"{size / 2**20:.1f} MB is over the 20 MB editing limit")
        data = path.read_bytes()
    except OSError as e:
        return LoadedFile(None, f"cannot read it: {e.strerror or e}")
    if looks_binary(data):
        return LoadedFile(None, "it is a binary file")
    return LoadedFile(decode_text(data), sha256=hashlib.sha256(data).hexdigest())


class _CachingDocument(Document):
    """A Document that remembers its joined text and widest line between edits.

    TextArea reads ``text`` for every rendered line (to decide on its placeholder) and measures
    every line after every edit: each is O(file size). The width only grows here on an edit (a
    shrinking file keeps its horizontal scroll range until it is reloaded).
    """

    _text_cache: str | None = None
    _width_cache: tuple[int, int] | None = None

    def replace_range(self, start: Location, end: Location, text: str) -> EditResult:
        self._text_cache = None
        result = super().replace_range(start, end, text)
        if self._width_cache is not None:
            tab_width, width = self._width_cache
            top = min(start[0], end[0])
            for line in self._lines[top : result.end_location[0] + 1]:
                width = max(width, cell_len(line.expandtabs(tab_width)))
            self._width_cache = (tab_width, width)
        return result

    @property
    def text(self) -> str:
        if self._text_cache is None:
            self._text_cache = super().text
        return self._text_cache

    def get_size(self, tab_width: int) -> Size:
        if self._width_cache is None or self._width_cache[0] != tab_width:
            size = super().get_size(tab_width)
            self._width_cache = (tab_width, size.width)
            return size
        return Size(self._width_cache[1], len(self._lines))


_CACHING_CLASSES: dict[type[Document], type[Document]] = {Document: _CachingDocument}


def _caching_class(cls: type[Document]) -> type[Document]:
    if cls not in _CACHING_CLASSES:
        _CACHING_CLASSES[cls] = type(f"Caching{cls.__name__}", (_CachingDocument, cls), {})
    return _CACHING_CLASSES[cls]


class _CachedHeightWrappedDocument(WrappedDocument):
    """A WrappedDocument whose height is computed once per (re-)wrap instead of per read."""

    _cached_height: int | None = None

    def wrap(self, width: int, tab_width: int | None = None) -> None:
        """Wrap every line; without soft wrapping (``width`` 0) build the same tables as
        Textual in one pass of comprehensions, about 4x faster (a 10 MB file has a million
        lines, and Textual wraps several times while opening one)."""
        self._cached_height = None
        if width:
            super().wrap(width, tab_width)
            return
        self._width = 0
        if tab_width:
            self._tab_width = tab_width
        tab = self._tab_width
        lines = self.document.lines
        count = len(lines)
        self._wrap_offsets = [[] for _ in range(count)]
        self._offset_to_line_info = [(index, 0) for index in range(count)]
        self._line_index_to_offsets = [[index] for index in range(count)]
        self._tab_width_cache = [
            [w for _, w in get_tab_widths(line, tab)] if "\t" in line else [0] if line else []
            for line in lines
        ]

    def wrap_range(self, start: Location, old_end: Location, new_end: Location) -> None:
        self._cached_height = None
        super().wrap_range(start, old_end, new_end)

    @property
    def height(self) -> int:
        if self._cached_height is None:
            self._cached_height = super().height
        return self._cached_height


class CodeArea(TextArea):
    """The editing surface; the screen's close and explorer keys keep working inside it.

    Syntax highlights are computed for the lines around the viewport only (TextArea computes
    them for the whole file after every keystroke: seconds per key in a 10 MB file), and again
    when scrolling leaves that window.
    """

    BINDINGS = [
        # TextArea uses these for "delete word left" and "end of line" (ctrl+backspace and end
        # still do that); in Symphony they close the tab and focus the explorer everywhere.
        Binding("ctrl+w", "screen.close_tab", "Close tab", id="close_tab"),
        Binding("ctrl+e", "screen.focus_explorer", "Explorer", show=False, id="focus_explorer"),
        # TextArea's own keys, given ids so ide.keymap can change them.
        Binding("ctrl+z,super+z", "undo", "Undo", show=False, id="editor_undo"),
        Binding("ctrl+y,super+y", "redo", "Redo", show=False, id="editor_redo"),
        Binding("ctrl+x,super+x", "cut", "Cut", show=False, id="editor_cut"),
        Binding("ctrl+c,super+c", "copy", "Copy", show=False, id="editor_copy"),
        Binding("ctrl+v", "paste", "Paste", show=False, id="editor_paste"),
        Binding("f7", "select_all", "Select all", show=False, id="editor_select_all"),
        Binding("f6", "select_line", "Select line", show=False, id="editor_select_line"),
        Binding("ctrl+shift+k", "delete_line", "Delete line", show=False, id="editor_delete_line"),
    ]

    #: Lines highlighted above and below the visible ones.
    HIGHLIGHT_MARGIN = 300

    def load_document(self, text: str, language: str | None) -> None:
        """Build the document once (TextArea's constructor and its language watcher would each
        build, wrap and parse it again: seconds for a 10 MB file)."""
        self.set_reactive(TextArea.language, language)
        self._set_document(text, language)

    def _set_document(self, text: str, language: str | None) -> None:
        # Textual builds a WrappedDocument (wrapping every line) and re-wraps it: have it build
        # ours, whose unwrapped layout is faster and whose height is cached (Textual sums every
        # line's wrap count each time it reads the height, per rendered line).
        original = _text_area.WrappedDocument  # type: ignore[attr-defined]
        _text_area.WrappedDocument = _CachedHeightWrappedDocument  # type: ignore[attr-defined]
        try:
            super()._set_document(text, language)
        finally:
            _text_area.WrappedDocument = original  # type: ignore[attr-defined]
        self._document_language = language
        if isinstance(self.document, Document):
            self.document.__class__ = _caching_class(type(self.document))

    def _watch_language(self, language: str | None) -> None:
        if getattr(self, "_document_language", None) != language:
            super()._watch_language(language)

    _highlight_window = (0, -1)

    def _visible_rows(self) -> tuple[int, int]:
        """The document rows on screen (first, last)."""
        top = self.scroll_offset.y
        height = max(self.size.height, 50)
        if not self.soft_wrap:
            return top, top + height
        wrapped = self.wrapped_document
        first = wrapped.offset_to_location(Offset(0, top))[0]
        last = wrapped.offset_to_location(Offset(0, top + height))[0]
        return first, last

    def _build_highlight_map(self) -> None:
        self._line_cache.clear()
        highlights = self._highlights
        highlights.clear()
        if not self._highlight_query:
            return
        first, last = self._visible_rows()
        first = max(0, first - self.HIGHLIGHT_MARGIN)
        last = last + self.HIGHLIGHT_MARGIN
        self._highlight_window = (first, last)
        captures = self.document.query_syntax_tree(
            self._highlight_query, start_point=(first, 0), end_point=(last + 1, 0)
        )
        for name, nodes in captures.items():
            for node in nodes:
                start_row, start_col = node.start_point
                end_row, end_col = node.end_point
                if start_row == end_row:
                    highlights[start_row].append((start_col, end_col, name))
                    continue
                if start_row >= first:
                    highlights[start_row].append((start_col, None, name))
                for row in range(max(start_row + 1, first), min(end_row, last + 1)):
                    highlights[row].append((0, None, name))
                if end_row <= last:
                    highlights[end_row].append((0, end_col, name))

    def _watch_scroll_y(self) -> None:
        super()._watch_scroll_y()
        if self._highlight_query is None:
            return
        first, last = self._visible_rows()
        window_first, window_last = self._highlight_window
        if first < window_first or last > window_last:
            self._build_highlight_map()
            self.refresh()


class FindBar(Horizontal):
    """Find (and replace) in the editor above it: ``enter``/``down`` next, ``shift+enter``/``up``
    previous, ``escape`` closes."""

    DEFAULT_CSS = """
    FindBar { height: auto; display: none; background: $panel; padding: 0 1; }
    FindBar.-open { display: block; }
    FindBar > Input, FindBar > Input:focus {
        width: 1fr; border: none; height: 1; padding: 0 1; margin-right: 1;
    }
    FindBar #find-count { width: auto; min-width: 10; color: $text-muted; margin-right: 1; }
    FindBar Button { min-width: 9; height: 1; border: none; margin-right: 1; }
    FindBar .replace { display: none; }
    FindBar.-replace .replace { display: block; }
    """

    BINDINGS = [
        Binding("escape", "close", "Close find", show=False, id="find_close"),
        Binding("down,f3", "next", "Next match", show=False, id="find_next"),
        Binding("up,shift+f3", "previous", "Previous match", show=False, id="find_previous"),
        Binding("shift+enter", "previous", "Previous match", show=False, id="find_previous"),
    ]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Find", id="find-input")
        yield Label("", id="find-count")
        yield Input(placeholder="Replace", id="replace-input", classes="replace")
        yield Button("Replace", id="replace-one", classes="replace", compact=True)
        yield Button("All", id="replace-all", classes="replace", compact=True)

    @property
    def editor(self) -> Editor:
        """The editor this bar searches."""
        parent = self.parent
        assert isinstance(parent, Editor)
        return parent

    def action_close(self) -> None:
        """Hide the bar and go back to the text."""
        self.remove_class("-open")
        self.editor.area.focus()

    def action_next(self) -> None:
        """Select the next match."""
        self.editor.find_next()

    def action_previous(self) -> None:
        """Select the previous match."""
        self.editor.find_next(backwards=True)

    @on(Input.Changed, "#find-input")
    def _query_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.editor.set_query(event.value)

    @on(Input.Submitted, "#find-input")
    def _find_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.editor.find_next()

    @on(Input.Submitted, "#replace-input")
    @on(Button.Pressed, "#replace-one")
    def _replace_one(self, event: Message) -> None:
        event.stop()
        self.editor.replace_current(self.query_one("#replace-input", Input).value)

    @on(Button.Pressed, "#replace-all")
    def _replace_all(self, event: Button.Pressed) -> None:
        event.stop()
        self.editor.replace_all(self.query_one("#replace-input", Input).value)

    def show_count(self, current: int | None, total: int, capped: bool) -> None:
        """Show "3 of 12", "12 matches" or "no results"."""
        more = "+" if capped else ""
        if not self.editor.query_text:
            text = ""
        elif total == 0:
            text = "no results"
        elif current is None:
            text = f"{total}{more} matches"
        else:
            text = f"{current} of {total}{more}"
        self.query_one("#find-count", Label).update(text)


class Editor(Vertical):
    """One open file: its text area and find bar."""

    DEFAULT_CSS = """
    Editor { height: 1fr; }
    Editor CodeArea, Editor CodeArea:focus { height: 1fr; border: none; padding: 0; }
    """

    class DirtyChanged(Message):
        """The buffer became unsaved, or saved/clean again."""

        def __init__(self, editor: Editor) -> None:
            super().__init__()
            self.editor = editor

    class DiskChanged(Message):
        """The file changed on disk (or was deleted) since the editor last read or wrote it."""

        def __init__(self, editor: Editor, *, deleted: bool) -> None:
            super().__init__()
            self.editor = editor
            self.deleted = deleted

    def __init__(
        self,
        path: Path,
        decoded: DecodedText,
        config: EditorConfig,
        *,
        base_sha256: str | None = None,
    ) -> None:
        super().__init__()
        self.path = path
        #: SHA-256 of the file on disk the buffer comes from (for crash recovery).
        self.base_sha256 = base_sha256
        self.encoding = decoded.encoding
        self.newline = decoded.newline
        self.dirty = False
        self.disk = DiskState.of(path)
        self.query_text = ""
        self._saved_text: str | None = (
            decoded.text if len(decoded.text) <= CLEAN_CHECK_LIMIT else None
        )
        self._loads_pending = 0
        self._matches: list[tuple[tuple[int, int], tuple[int, int]]] | None = None
        self._matches_capped = False
        first_line = decoded.text[: decoded.text.find("\n")] if "\n" in decoded.text else ""
        self.language = language_for(path, first_line)
        grammar = None
        if self.language in ("javascript", "typescript"):
            grammar = custom_grammar(self.language, tsx=path.suffix.lower() == ".tsx")
            if grammar is None:
                self.language = None
        elif self.language and not grammar_installed(self.language):
            self.language = None
        self.syntax_skipped = bool(self.language) and len(decoded.text) > SYNTAX_LIMIT
        if self.syntax_skipped:
            self.language, grammar = None, None
        self.area = CodeArea(
            "",
            language=None,
            soft_wrap=config.word_wrap,
            tab_behavior="indent",
            show_line_numbers=config.line_numbers,
            id="code",
        )
        self.area.indent_type = "spaces" if config.insert_spaces else "tabs"
        self.area.indent_width = config.tab_size
        for theme in CODE_THEMES.values():
            self.area.register_theme(theme)
        if grammar is not None and self.language:
            self.area.register_language(self.language, *grammar)
        try:
            self.area.load_document(decoded.text, self.language)
        except (LanguageDoesNotExist, ValueError):  # a grammar or query that does not load
            self.language = None
            self.area.load_document(decoded.text, None)

    def compose(self) -> ComposeResult:
        yield self.area
        yield FindBar()

    def on_mount(self) -> None:
        if self.syntax_skipped:
            self.notify(
                f"{self.path.name} is over {SYNTAX_LIMIT // 2**20} MB: no syntax highlighting",
                title="Large file",
                timeout=4,
            )
        self._apply_code_theme()
        self.watch(self.app, "theme", lambda _: self._apply_code_theme(), init=False)
        self.set_interval(POLL_INTERVAL, self.check_disk)

    def _apply_code_theme(self) -> None:
        self.area.theme = CODE_THEMES[self.app.current_theme.dark].name

    def apply_config(self, config: EditorConfig) -> None:
        """Apply changed ``ide.editor`` settings."""
        self.area.soft_wrap = config.word_wrap
        self.area.show_line_numbers = config.line_numbers
        self.area.indent_type = "spaces" if config.insert_spaces else "tabs"
        self.area.indent_width = config.tab_size

    @property
    def text(self) -> str:
        """The buffer's text, with ``\\n`` line endings."""
        return self.area.text

    # --- dirty state, saving, disk ------------------------------------------------------------

    @on(TextArea.Changed)
    def _text_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._matches = None
        if self._loads_pending:
            self._loads_pending -= 1
            return
        dirty = True
        if self._saved_text is not None:
            dirty = self.area.text != self._saved_text
        self._mark_dirty(dirty)

    def _mark_dirty(self, dirty: bool) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.post_message(self.DirtyChanged(self))

    def save(self) -> bool:
        """Write the buffer to its file atomically (keeping its mode); False with a notice on
        failure."""
        text = self.area.text
        try:
            data, used = encode_text(text, encoding=self.encoding, newline=self.newline)
            write_atomic(self.path, data)
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            self.notify(f"{self.path.name}: {reason}", title="Save failed", severity="error")
            return False
        if used != self.encoding:
            self.notify(
                f"{self.path.name} now holds characters {self.encoding} cannot store:"
                f" saved as {used}",
                title="Saved as UTF-8",
                severity="warning",
            )
            self.encoding = used
        self.base_sha256 = hashlib.sha256(data).hexdigest()
        self.disk = DiskState.of(self.path)
        self._saved_text = text if len(text) <= CLEAN_CHECK_LIMIT else None
        self._mark_dirty(False)
        return True

    def reload_from_disk(self) -> bool:
        """Replace the buffer with the file's content (keeping the cursor's line if it can)."""
        loaded = read_for_editing(self.path)
        if loaded.decoded is None:
            self.notify(
                f"{self.path.name}: {loaded.reason}", title="Reload failed", severity="error"
            )
            return False
        decoded = loaded.decoded
        self.encoding, self.newline = decoded.encoding, decoded.newline
        self.base_sha256 = loaded.sha256
        self.disk = DiskState.of(self.path)
        cursor = self.area.cursor_location
        if decoded.text != self.area.text:
            self._loads_pending += 1
            self.area.load_text(decoded.text)
            row = min(cursor[0], self.area.document.line_count - 1)
            self.area.move_cursor((row, 0))
        self._saved_text = decoded.text if len(decoded.text) <= CLEAN_CHECK_LIMIT else None
        self._mark_dirty(False)
        return True

    def keep_buffer(self) -> None:
        """Keep the buffer over a changed file: stay unsaved and stop asking until it changes
        again."""
        self.disk = DiskState.of(self.path)
        self.base_sha256 = file_sha256(self.path)
        self._saved_text = None
        self._mark_dirty(True)

    def restore_text(self, text: str, *, base_sha256: str | None) -> None:
        """Put recovered text in the buffer (one undoable edit); it stays unsaved."""
        self.area.replace(text, (0, 0), self.area.document.end, maintain_selection_offset=False)
        self.area.move_cursor((0, 0))
        self.base_sha256 = base_sha256
        self._mark_dirty(self._saved_text is None or text != self._saved_text)

    def check_disk(self) -> None:
        """Post :class:`DiskChanged` if the file changed on disk since it was read or saved."""
        now = DiskState.of(self.path)
        if now == self.disk:
            return
        self.disk = now
        self.post_message(self.DiskChanged(self, deleted=now is None))

    def moved_to(self, path: Path) -> None:
        """The file was renamed to ``path`` (by the explorer)."""
        self.path = path
        self.disk = DiskState.of(path)

    # --- find, replace, go to line ------------------------------------------------------------

    @property
    def find_bar(self) -> FindBar:
        """This editor's find bar."""
        return self.query_one(FindBar)

    def open_find(self, *, replace: bool = False) -> None:
        """Show the find bar (with the replace field if ``replace``), seeded from the selection."""
        bar = self.find_bar
        bar.add_class("-open")
        bar.set_class(replace, "-replace")
        find_input = bar.query_one("#find-input", Input)
        selected = self.area.selected_text
        if selected and "\n" not in selected:
            find_input.value = selected
        find_input.focus()
        find_input.select_all()
        self._update_count()

    def set_query(self, query: str) -> None:
        """Search for ``query`` (case-sensitive only if it has a capital) and select the first
        match at or after the cursor."""
        self.query_text = query
        self._matches = None
        if query:
            self.find_next(from_start=True)
        else:
            self._update_count()

    def _compute_matches(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        if self._matches is not None:
            return self._matches
        matches: list[tuple[tuple[int, int], tuple[int, int]]] = []
        self._matches_capped = False
        query = self.query_text
        if query:
            flags = 0 if any(c.isupper() for c in query) else re.IGNORECASE
            text = self.area.text
            row, line_start, counted_to = 0, 0, 0
            for match in re.finditer(re.escape(query), text, flags):
                start = match.start()
                newlines = text.count("\n", counted_to, start)
                if newlines:
                    row += newlines
                    line_start = text.rfind("\n", 0, start) + 1
                counted_to = start
                end_row = row + match.group().count("\n")
                end_col = match.end() - line_start if end_row == row else 0
                matches.append(((row, start - line_start), (end_row, end_col)))
                if len(matches) >= MAX_MATCHES:
                    self._matches_capped = True
                    break
        self._matches = matches
        return matches

    def _update_count(self, current: int | None = None) -> None:
        matches = self._compute_matches()
        self.find_bar.show_count(current, len(matches), self._matches_capped)

    def find_next(self, *, backwards: bool = False, from_start: bool = False) -> bool:
        """Select the next (or previous) match, wrapping around; False if there is none."""
        matches = self._compute_matches()
        if not matches:
            self._update_count()
            return False
        selection = self.area.selection
        anchor = min(selection.start, selection.end) if from_start else selection.end
        starts = [m[0] for m in matches]
        if backwards:
            begin = min(selection.start, selection.end)
            index = bisect_right(starts, begin) - 1
            if index >= 0 and starts[index] == begin:
                index -= 1
            index %= len(matches)
        else:
            index = bisect_right(starts, anchor) if not from_start else 0
            if from_start:
                index = next((i for i, s in enumerate(starts) if s >= anchor), 0)
            index %= len(matches)
        start, end = matches[index]
        self.area.selection = Selection(start, end)
        self.area.scroll_cursor_visible(center=True)
        self._update_count(index + 1)
        return True

    def replace_current(self, replacement: str) -> None:
        """Replace the selected match with ``replacement``, then select the next match."""
        selection = self.area.selection
        start, end = sorted((selection.start, selection.end))
        if (start, end) in self._compute_matches():
            self.area.replace(replacement, start, end)
            self._matches = None
            after = self.area.selection.end
            self.area.selection = Selection(after, after)
        self.find_next()

    def replace_all(self, replacement: str) -> int:
        """Replace every match (one undo step); returns how many were replaced."""
        query = self.query_text
        if not query:
            return 0
        flags = 0 if any(c.isupper() for c in query) else re.IGNORECASE
        new_text, count = re.subn(
            re.escape(query), lambda _: replacement, self.area.text, flags=flags
        )
        if count:
            self.area.replace(new_text, (0, 0), self.area.document.end)
            self._matches = None
        self.notify(f"replaced {count} match{'es' if count != 1 else ''}", title="Replace")
        self._update_count()
        return count

    def go_to_line(self, line: int, column: int = 1) -> None:
        """Move the cursor to 1-based ``line`` and ``column`` (clamped), centred on screen."""
        document = self.area.document
        row = max(0, min(line - 1, document.line_count - 1))
        col = max(0, min(column - 1, len(document.get_line(row))))
        self.area.move_cursor((row, col), center=True)
        self.area.focus()


def editor_label(editor: Editor) -> str:
    """The tab label: the file name, with ``●`` while unsaved."""
    return f"● {editor.path.name}" if editor.dirty else editor.path.name
