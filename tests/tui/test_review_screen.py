"""ReviewScreen driven by keys: accept some files, reject others, and get the accepted paths;
toggle, accept all, refuse to apply nothing, cancel; the diff follows the highlighted file."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Static

from engine.changes import ChangeSet, propose
from symphony_tui.screens.review import ReviewScreen, diff_content
from symphony_tui.themes import textual_themes


def sample_change_set(root: Path) -> ChangeSet:
    """A workspace with three files and a change set creating, modifying and deleting files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text("def main():\n    print('hello')\n\n\nmain()\n")
    (root / "old_notes.txt").write_text("remember the milk\n")
    (root / "README.md").write_text("# Demo\n")
    return propose(
        root,
        {
            "app.py": "import sys\n\n\ndef main():\n    print('hello, world')\n    return 0\n\n\n"
            "sys.exit(main())\n",
            "src/greeting.py": "GREETING = 'hello, world'\n",
            "old_notes.txt": None,
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        },
        title="say hello to the world",
    )


class Host(App[None]):
    """Shows one ReviewScreen over an empty screen with the real symphony-dark theme."""

    def __init__(self, screen: ReviewScreen, root: Path) -> None:
        super().__init__()
        self.review = screen
        self.root = root
        self.results: list[tuple[str, ...] | None] = []

    def on_mount(self) -> None:
        themes, _errors = textual_themes(self.root, self.root / "user")
        for theme in themes:
            self.register_theme(theme)
        self.theme = "symphony-dark"
        self.push_screen(self.review, self.results.append)


def diff_shown(app: Host) -> str:
    return str(app.review.query_one("#review-diff", Static).visual)


async def test_accept_some_reject_others_and_apply(tmp_path: Path) -> None:
    change_set = sample_change_set(tmp_path / "ws")
    assert change_set.paths == ("app.py", "src/greeting.py", "old_notes.txt", "logo.png")
    app = Host(ReviewScreen(change_set), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "print('hello, world')" in diff_shown(app)
        await pilot.press("a")  # app.py accepted, moves to src/greeting.py
        await pilot.press("r")  # greeting rejected, moves to old_notes.txt
        await pilot.pause()
        assert "remember the milk" in diff_shown(app)
        await pilot.press("a")  # old_notes.txt accepted (deleted on apply)
        await pilot.pause()
        assert "Binary file created" in diff_shown(app)
        summary = str(app.review.query_one("#review-summary", Static).visual)
        assert "2 of 4 accepted" in summary and "1 rejected" in summary
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [("app.py", "old_notes.txt")]


async def test_toggle_accept_all_then_reject_one(tmp_path: Path) -> None:
    app = Host(ReviewScreen(sample_change_set(tmp_path / "ws")), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("A")
        await pilot.press("down", "space")  # greeting: accepted -> rejected
        await pilot.press("down", "space", "space")  # old notes: rejected, then accepted again
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [("app.py", "old_notes.txt", "logo.png")]


async def test_enter_with_nothing_accepted_explains_and_stays(tmp_path: Path) -> None:
    app = Host(ReviewScreen(sample_change_set(tmp_path / "ws")), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("A", "R", "enter")
        await pilot.pause()
        assert app.results == []
        summary = app.review.query_one("#review-summary", Static)
        assert "nothing accepted" in str(summary.visual) and summary.has_class("-error")
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_preaccepted_paths_and_cancel(tmp_path: Path) -> None:
    change_set = sample_change_set(tmp_path / "ws")
    screen = ReviewScreen(change_set, accepted=("logo.png",))
    assert screen.accepted == ("logo.png",)
    app = Host(screen, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


def test_diff_lines_are_styled_by_what_they_do(tmp_path: Path) -> None:
    change = sample_change_set(tmp_path / "ws").changes[0]
    content = diff_content(change)
    styles = {content.plain[s.start : s.end]: str(s.style) for s in content.spans}
    assert "success" in styles["+    return 0"]
    assert "error" in styles["-    print('hello')"]
    assert "accent" in next(v for k, v in styles.items() if k.startswith("@@"))
