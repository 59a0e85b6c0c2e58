"""Review of proposed file changes: accept or reject each file, then apply (SPEC 5).

:class:`ReviewScreen` lists the files of a change set — created, modified or deleted, with the
lines added and removed — and shows the highlighted file's diff coloured with the theme. The user
accepts or rejects files with the keyboard; ``enter`` dismisses with the accepted paths,
``escape`` with None. The screen only asks: the caller applies the accepted paths with
``ApplyChanges`` over the bus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from engine.changes.diff import change_diff, is_binary, line_counts
from engine.changes.model import ChangeKind

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from engine.changes.model import ChangeSet, FileChange

__all__ = ["ReviewScreen", "diff_content", "file_prompt"]

#: A diff longer than this many lines is cut (the rest is summarised), to keep the screen quick.
MAX_DIFF_LINES = 4000
_KIND = {
    ChangeKind.CREATED: ("A", "$success"),
    ChangeKind.MODIFIED: ("M", "$warning"),
    ChangeKind.DELETED: ("D", "$error"),
}
_DECISION = {True: ("✓", "$success"), False: ("✗", "$error"), None: ("·", "$text-muted")}


def file_prompt(change: FileChange, decision: bool | None) -> Content:
    """One line of the file list: decision mark, kind letter, path and line counts."""
    mark, mark_style = _DECISION[decision]
    letter, kind_style = _KIND[change.kind]
    if is_binary(change.before) or is_binary(change.after):
        counts: list[tuple[str, str] | str] = [("binary", "$text-muted")]
    else:
        added, removed = line_counts(change)
        counts = []
        if added:
            counts.append((f"+{added}", "$text-success"))
        if removed:
            counts += [" "] if counts else []
            counts.append((f"-{removed}", "$text-error"))
    path_style = "$text-muted strike" if decision is False else ""
    return Content.assemble(
        (mark, f"bold {mark_style}"),
        " ",
        (letter, f"bold {kind_style}"),
        " ",
        (change.path, path_style),
        " " if counts else "",
        *counts,
    )


def diff_content(change: FileChange) -> Content:
    """A change's unified diff with additions, deletions and hunk headers in theme colours."""
    lines = change_diff(change).splitlines()
    cut = len(lines) - MAX_DIFF_LINES
    parts: list[tuple[str, str] | str] = []
    for line in lines[:MAX_DIFF_LINES]:
        if line.startswith(("+++", "---")):
            style = "bold $text-muted"
        elif line.startswith("@@"):
            style = "$text-accent"
        elif line.startswith("+"):
            style = "$text-success on $success-muted"
        elif line.startswith("-"):
            style = "$text-error on $error-muted"
        elif line.startswith(("\\", "Binary", "(")):
            style = "italic $text-warning"
        else:
            style = ""
        parts += [(line, style) if style else line, "\n"]
    if cut > 0:
        parts.append((f"… {cut:,} more lines", "italic $text-muted"))
    return Content.assemble(*parts)


class ReviewScreen(ModalScreen[tuple[str, ...] | None]):
    """Accept or reject each file of a change set.

    Args:
        change_set: the proposed changes (with their ``before`` content, for the diffs).
        accepted: paths accepted from the start (default: none; every file is undecided).

    Dismisses with the accepted paths in change-set order (``enter``), or None (``escape``).
    """

    CSS_PATH = "review.tcss"
    BINDINGS = [
        Binding("space", "flip", "Toggle", id="review_toggle"),
        Binding("a", "decide(True)", "Accept", id="review_accept"),
        Binding("r", "decide(False)", "Reject", id="review_reject"),
        Binding("A", "decide_all(True)", "All", id="review_accept_all"),
        Binding("R", "decide_all(False)", "None", id="review_reject_all"),
        Binding("enter", "apply", "Apply", id="review_apply", priority=True),
        Binding("escape", "cancel", "Cancel", id="review_cancel"),
        Binding("pagedown", "scroll_diff(1)", show=False, id="review_diff_down", priority=True),
        Binding("pageup", "scroll_diff(-1)", show=False, id="review_diff_up", priority=True),
    ]

    def __init__(self, change_set: ChangeSet, *, accepted: tuple[str, ...] = ()) -> None:
        super().__init__(classes="review")
        self.change_set = change_set
        self.decisions: dict[str, bool | None] = {
            c.path: (True if c.path in accepted else None) for c in change_set.changes
        }

    @property
    def accepted(self) -> tuple[str, ...]:
        """The accepted paths, in change-set order."""
        return tuple(p for p, d in self.decisions.items() if d)

    def compose(self) -> ComposeResult:
        title = self.change_set.title or "proposed changes"
        with Vertical(id="review-box"):
            yield Static(Content.assemble(("Review: ", "bold"), title), id="review-title")
            with Horizontal(id="review-body"):
                yield OptionList(
                    *(
                        Option(file_prompt(c, self.decisions[c.path]), id=c.path)
                        for c in self.change_set.changes
                    ),
                    id="review-files",
                )
                with VerticalScroll(id="review-diff-scroll"):
                    yield Static(id="review-diff")
            yield Static(id="review-summary")
        yield Footer()

    def on_mount(self) -> None:
        files = self.query_one("#review-files", OptionList)
        files.focus()
        if self.change_set.changes:
            files.highlighted = 0
        self._summarise()

    def _current(self) -> FileChange | None:
        index = self.query_one("#review-files", OptionList).highlighted
        changes = self.change_set.changes
        return changes[index] if index is not None and index < len(changes) else None

    @on(OptionList.OptionHighlighted, "#review-files")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        change = self._current()
        diff = self.query_one("#review-diff", Static)
        diff.update(diff_content(change) if change else "")
        self.query_one("#review-diff-scroll", VerticalScroll).scroll_home(animate=False)

    def _summarise(self, problem: str = "") -> None:
        total = len(self.decisions)
        accepted = len(self.accepted)
        rejected = sum(1 for d in self.decisions.values() if d is False)
        added = removed = 0
        for change in self.change_set.changes:
            if self.decisions[change.path]:
                a, r = line_counts(change)
                added, removed = added + a, removed + r
        text = problem or (
            f"{accepted} of {total} accepted (+{added} -{removed}), {rejected} rejected, "
            f"{total - accepted - rejected} undecided"
        )
        summary = self.query_one("#review-summary", Static)
        summary.update(text)
        summary.set_class(bool(problem), "-error")

    def _set(self, path: str, decision: bool | None) -> None:
        self.decisions[path] = decision
        change = self.change_set.get(path)
        assert change is not None
        self.query_one("#review-files", OptionList).replace_option_prompt(
            path, file_prompt(change, decision)
        )

    def action_decide(self, accept: bool) -> None:
        """Accept or reject the highlighted file, then move to the next one."""
        change = self._current()
        if change is None:
            return
        self._set(change.path, accept)
        files = self.query_one("#review-files", OptionList)
        files.action_cursor_down()
        self._summarise()

    def action_flip(self) -> None:
        """Accept the highlighted file if it is not accepted, else reject it."""
        change = self._current()
        if change is not None:
            self._set(change.path, not self.decisions[change.path])
            self._summarise()

    def action_decide_all(self, accept: bool) -> None:
        """Accept or reject every file."""
        for path in self.decisions:
            self._set(path, accept)
        self._summarise()

    def action_scroll_diff(self, pages: int) -> None:
        """Scroll the diff by a page."""
        scroll = self.query_one("#review-diff-scroll", VerticalScroll)
        if pages > 0:
            scroll.scroll_page_down(animate=False)
        else:
            scroll.scroll_page_up(animate=False)

    def action_apply(self) -> None:
        """Close with the accepted paths (at least one must be accepted)."""
        if not self.accepted:
            self._summarise("nothing accepted: a accepts a file, A every file; escape cancels")
            return
        self.dismiss(self.accepted)

    def action_cancel(self) -> None:
        """Close without applying anything."""
        self.dismiss(None)
