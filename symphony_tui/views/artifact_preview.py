"""The artifacts view's detail widgets: the preview of one artifact and its lineage tree.

The preview shows the first part of an artifact as the engine sent it (:class:`ArtifactContent`):
Markdown rendered, JSON as a tree, other text highlighted like the editor does, anything else
as a hex summary; a note says when only the first part is shown. The lineage tree lists what an
artifact was made from and what was made from it, and posts :class:`LineageTree.Jump` when a
node is chosen. Neither talks to the engine: the view feeds them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Markdown, Static, TextArea, Tree
from textual.widgets.text_area import LanguageDoesNotExist

from symphony_tui.views.artifact_format import (
    display_name,
    format_size,
    hex_summary,
    language_of,
    preview_kind,
    producer_label,
    short_type,
)
from symphony_tui.widgets.editor import CODE_THEMES
from symphony_tui.widgets.grammars import custom_grammar, grammar_installed

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.widget import Widget
    from textual.widgets.tree import TreeNode

    from engine.pit.artifacts.models import ArtifactInfo
    from engine.pit.messages import ArtifactContent, ArtifactLineage

__all__ = ["JSON_NODE_LIMIT", "MARKDOWN_LIMIT", "ArtifactPreview", "LineageTree"]

#: Markdown is rendered up to this many characters (each block is a widget).
MARKDOWN_LIMIT = 32 * 1024
#: A JSON tree stops after this many nodes.
JSON_NODE_LIMIT = 2000


def _style(widget: Widget, variable: str) -> str:
    """A Rich style for a theme colour (Rich text cannot use CSS variables directly)."""
    return widget.app.theme_variables.get(variable, "")


def header_content(info: ArtifactInfo) -> Content:
    """``name  type · size · hash · producer  ● pinned``, colours from the theme."""
    details = [short_type(info.media_type), format_size(info.size), info.hash[:12]]
    producer = producer_label(info)
    if producer:
        details.append(producer)
    markup = "[b]$name[/b]  [$text-muted]$details[/]"
    if info.tags:
        markup += "  [$text-secondary]$tags[/]"
    if info.pinned:
        markup += "  [$text-accent]● pinned[/]"
    return Content.from_markup(
        markup,
        name=display_name(info),
        details=" · ".join(details),
        tags=" ".join(f"#{t}" for t in info.tags),
    )


class ArtifactPreview(Vertical):
    """A header line, an optional note and the artifact's content in the fitting widget."""

    DEFAULT_CSS = """
    ArtifactPreview { height: 1fr; }
    ArtifactPreview #preview-header { height: auto; max-height: 2; padding: 0 1; }
    ArtifactPreview #preview-note {
        height: auto; padding: 0 1; color: $text-warning; display: none;
    }
    ArtifactPreview #preview-body { height: 1fr; }
    ArtifactPreview #preview-body > * { height: 1fr; }
    ArtifactPreview #preview-body TextArea { border: none; padding: 0; }
    ArtifactPreview #preview-body .message { color: $text-muted; padding: 0 1; }
    ArtifactPreview #preview-body VerticalScroll { padding: 0 1; }
    ArtifactPreview #preview-body Markdown { height: auto; margin: 0; padding: 0; }
    ArtifactPreview #preview-body Tree { padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info: ArtifactInfo | None = None
        #: What the body shows: ``markdown``, ``json``, ``text``, ``binary`` or ``message``.
        self.kind = "message"
        #: The hash whose content the body shows (None while it shows a message).
        self.shown: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-header")
        yield Static("", id="preview-note")
        with Vertical(id="preview-body"):
            yield Static("Select an artifact to preview it.", classes="message")

    @property
    def body(self) -> Vertical:
        return self.query_one("#preview-body", Vertical)

    @property
    def content_widget(self) -> Widget | None:
        """The widget showing the content (focus goes there)."""
        children = self.body.children
        return children[0] if children else None

    def set_info(self, info: ArtifactInfo) -> None:
        """Show new metadata (after a pin, or a new tag) without reloading the content."""
        self.info = info
        self.query_one("#preview-header", Static).update(header_content(info))

    async def show_message(self, message: str, info: ArtifactInfo | None = None) -> None:
        """Replace the body with a line of text (loading, errors, nothing selected)."""
        if info is not None:
            self.set_info(info)
        elif self.info is None:
            self.query_one("#preview-header", Static).update("")
        self._note("")
        self.shown = None
        await self._replace(Static(Text(message), classes="message"), "message")

    async def show(self, content: ArtifactContent) -> None:
        """Show ``content`` (the first bytes of an artifact) in the widget its type calls for."""
        info = content.info
        self.set_info(info)
        data = content.data
        kind: str = preview_kind(info, data)
        notes: list[str] = []
        if content.truncated:
            notes.append(
                f"Showing the first {format_size(len(data))} of {format_size(info.size)}"
                " — o opens it all in an editor."
            )
        widget: Widget
        if kind == "binary":
            widget = VerticalScroll(
                Static(Text(f"binary · {info.media_type} · {info.size:,} bytes\n")),
                Static(Text(hex_summary(data, info.size))),
            )
        else:
            text = data.decode("utf-8", errors="replace")
            if content.truncated:
                text = text[:-1] if text.endswith("\ufffd") else text  # a cut multi-byte char
            widget, kind, note = self._text_widget(info, text, kind, content.truncated)
            if note:
                notes.append(note)
        self._note(" ".join(notes))
        await self._replace(widget, kind)
        self.shown = info.hash

    def _text_widget(
        self, info: ArtifactInfo, text: str, kind: str, truncated: bool
    ) -> tuple[Widget, str, str]:
        if kind == "markdown":
            note = ""
            if len(text) > MARKDOWN_LIMIT:
                text, note = text[:MARKDOWN_LIMIT], f"Rendered up to {MARKDOWN_LIMIT // 1024} KiB."
            return VerticalScroll(Markdown(text)), kind, note
        if kind == "json" and not truncated:
            try:
                data = json.loads(text)
            except ValueError:
                pass  # not valid JSON after all: show it as text
            else:
                tree = json_tree(data, self)
                note = "" if tree.complete else f"The tree stops at {JSON_NODE_LIMIT:,} entries."
                return tree, kind, note
        return code_view(info, text), "text", ""

    def _note(self, text: str) -> None:
        note = self.query_one("#preview-note", Static)
        note.update(Text(text))
        note.display = bool(text)

    async def _replace(self, widget: Widget, kind: str) -> None:
        body = self.body
        had_focus = self.screen.focused is not None and self.screen.focused in body.walk_children()
        await body.remove_children()
        await body.mount(widget)
        self.kind = kind
        if had_focus and widget.focusable:
            widget.focus()


class CodeView(TextArea):
    """Read-only text with line numbers in the editor's code theme (following the app's)."""

    def on_mount(self) -> None:
        self._apply_code_theme()
        self.watch(self.app, "theme", lambda _: self._apply_code_theme(), init=False)

    def _apply_code_theme(self) -> None:
        self.theme = CODE_THEMES[self.app.current_theme.dark].name


def code_view(info: ArtifactInfo, text: str) -> CodeView:
    """A read-only text area highlighted like the editor (tree-sitter, the code theme)."""
    area = CodeView(text, read_only=True, show_line_numbers=True, soft_wrap=False)
    for theme in CODE_THEMES.values():
        area.register_theme(theme)
    language = language_of(info, text)
    if language in ("javascript", "typescript"):
        grammar = custom_grammar(language)
        if grammar is None:
            return area
        area.register_language(language, *grammar)
    elif language is None or not grammar_installed(language):
        return area
    try:
        area.language = language
    except (LanguageDoesNotExist, ValueError):
        area.language = None
    return area


class JsonTree(Tree[None]):
    """A JSON document as a tree: objects and arrays expand, scalars are leaves."""

    def __init__(self) -> None:
        super().__init__("JSON")
        self.show_root = False
        self.complete = True
        self._count = 0


def json_tree(data: Any, owner: Widget) -> JsonTree:
    """Build a :class:`JsonTree` for ``data``, at most :data:`JSON_NODE_LIMIT` nodes."""
    tree = JsonTree()
    styles = {
        "key": _style(owner, "text-primary"),
        "string": _style(owner, "text-success"),
        "number": _style(owner, "text-accent"),
        "literal": _style(owner, "text-warning"),
    }

    def scalar(value: Any) -> Text:
        if isinstance(value, str):
            return Text(json.dumps(value, ensure_ascii=False), style=styles["string"])
        if isinstance(value, bool) or value is None:
            return Text(json.dumps(value), style=styles["literal"])
        return Text(json.dumps(value), style=styles["number"])

    def add(parent: TreeNode[None], key: str | None, value: Any, depth: int) -> None:
        if tree._count >= JSON_NODE_LIMIT:
            tree.complete = False
            return
        tree._count += 1
        label = Text()
        if key is not None:
            label.append(key, style=styles["key"])
            label.append(": ")
        if isinstance(value, dict):
            label.append(f"{{{len(value)}}}", style="dim")
            node = parent.add(label, expand=depth < 2)
            for k, v in value.items():
                add(node, str(k), v, depth + 1)
        elif isinstance(value, list):
            label.append(f"[{len(value)}]", style="dim")
            node = parent.add(label, expand=depth < 2)
            for i, v in enumerate(value):
                add(node, str(i), v, depth + 1)
        else:
            label.append_text(scalar(value))
            parent.add_leaf(label)

    add(tree.root, None, data, 0)
    tree.root.expand()
    return tree


class LineageTree(Tree[str]):
    """What an artifact was made from (up) and what was made from it (down)."""

    DEFAULT_CSS = """
    LineageTree { height: 1fr; padding: 0 1; }
    """

    class Jump(Message):
        """The user chose ``digest`` in the lineage: show that artifact."""

        def __init__(self, digest: str) -> None:
            super().__init__()
            self.digest = digest

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("lineage", id=id)
        self.show_root = True
        self.lineage: ArtifactLineage | None = None

    def _label(self, info: ArtifactInfo, *, root: bool = False) -> Text:
        label = Text()
        label.append(display_name(info), style="bold" if root else "")
        label.append(" · ", style="dim")
        label.append(f"{short_type(info.media_type)} · {format_size(info.size)}", style="dim")
        if info.pinned:
            label.append("  ●", style=_style(self, "text-accent"))
        return label

    def show(self, lineage: ArtifactLineage) -> None:
        """Draw ``lineage`` rooted at its artifact; inputs and outputs as two branches."""
        self.lineage = lineage
        self.clear()
        root_hash = lineage.root.hash
        self.root.set_label(self._label(lineage.root, root=True))
        self.root.data = root_hash
        ups: dict[str, list[str]] = {}
        downs: dict[str, list[str]] = {}
        for edge in lineage.edges:
            ups.setdefault(edge.child, []).append(edge.parent)
            downs.setdefault(edge.parent, []).append(edge.child)
        for title, links in (("made from", ups), ("used by", downs)):
            direct = links.get(root_hash, [])
            branch = self.root.add(
                Text(f"{title} ({len(direct)})", style="italic"), expand=True, allow_expand=True
            )
            if not direct:
                branch.add_leaf(Text("nothing", style="dim"))
            self._grow(branch, root_hash, links, lineage, {root_hash})
        if lineage.truncated:
            self.root.add_leaf(Text("… more lineage than shown", style="dim"))
        self.root.expand()
        self.move_cursor(self.root)

    def _grow(
        self,
        node: TreeNode[str],
        digest: str,
        links: dict[str, list[str]],
        lineage: ArtifactLineage,
        path: set[str],
    ) -> None:
        for other in links.get(digest, []):
            info = lineage.nodes.get(other)
            if info is None:
                continue
            if other in path:  # a cycle: show it once, do not follow it
                node.add_leaf(self._label(info), data=other)
                continue
            if links.get(other):
                child = node.add(self._label(info), data=other, expand=True)
                self._grow(child, other, links, lineage, path | {other})
            else:
                node.add_leaf(self._label(info), data=other)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        digest = event.node.data
        if digest and self.lineage is not None and digest != self.lineage.root.hash:
            self.post_message(self.Jump(digest))
