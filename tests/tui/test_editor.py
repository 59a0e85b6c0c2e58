"""The editor driven with Pilot on real files: open, edit, save, unsaved prompts, changes on disk,
find/replace, go to line, quick-open and the explorer's file operations."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from textual.widgets import Button, Input, OptionList, TabbedContent

from symphony_tui.app import SymphonyApp
from symphony_tui.screens.editor_dialogs import ChoiceDialog, InputDialog, QuickOpen
from symphony_tui.screens.main import MainScreen
from symphony_tui.widgets import editor as editor_module
from symphony_tui.widgets.editor import Editor
from symphony_tui.widgets.explorer import Explorer
from symphony_tui.widgets.preview import FilePreview
from tests.tui.helpers import wait_for


@pytest.fixture(autouse=True)
def fast_disk_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(editor_module, "POLL_INTERVAL", 0.1)


def main_screen(app: SymphonyApp) -> MainScreen:
    screen = app.main_screen
    assert screen is not None
    return screen


def tab_label(app: SymphonyApp, editor: Editor) -> str:
    tabs = main_screen(app).query_one("#main-tabs", TabbedContent)
    pane = editor.parent
    assert pane is not None
    return str(tabs.get_tab(pane.id or "").label)


async def open_from_explorer(app: SymphonyApp, pilot: object, name: str) -> Editor:
    tree = main_screen(app).query_one(Explorer)
    await wait_for(pilot, lambda: name in [str(n.label) for n in tree.root.children])  # type: ignore[arg-type]
    tree.focus()
    tree.cursor_line = [str(n.label) for n in tree.root.children].index(name) + 1
    await pilot.press("enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: main_screen(app).active_editor is not None)  # type: ignore[arg-type]
    editor = main_screen(app).active_editor
    assert editor is not None
    return editor


async def choose(app: SymphonyApp, pilot: object, choice: str) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))  # type: ignore[arg-type]
    app.screen.query_one(f"#choice-{choice}", Button).press()
    await wait_for(pilot, lambda: not isinstance(app.screen, ChoiceDialog))  # type: ignore[arg-type]


async def test_enter_in_explorer_opens_an_editor_with_syntax(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_from_explorer(app, pilot, "main.py")
        assert editor.text == "def main():\n    print('hello')\n"
        assert editor.language == "python" and editor.area.language == "python"
        assert not editor.area.read_only and editor.area.show_line_numbers
        assert app.focused is editor.area
        # Opening it again focuses the same tab instead of a second one.
        await main_screen(app).open_file(workspace / "main.py")
        assert len(main_screen(app).editors) == 1


@pytest.mark.parametrize("name", ["app.ts", "view.tsx"])
async def test_typescript_gets_its_own_grammar(workspace: Path, name: str) -> None:
    path = workspace / name
    path.write_text("interface Point { x: number }\nconst p: Point = { x: 1 };\n")
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)):
        editor = await main_screen(app).open_file(path)
        assert editor is not None and editor.language == "typescript"
        assert editor.area.language == "typescript"
        # The TypeScript grammar knows `interface` and type annotations; JavaScript's would
        # not highlight the type names at all.
        highlighted = {name for row in editor.area._highlights.values() for *_, name in row}
        assert "type" in highlighted or "type.builtin" in highlighted


async def test_edit_save_keeps_mode_and_crlf_and_clears_the_marker(workspace: Path) -> None:
    path = workspace / "run.sh"
    path.write_bytes(b"echo one\r\necho two\r\n")
    path.chmod(0o755)
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None and editor.language == "bash"
        assert tab_label(app, editor) == "run.sh"
        await pilot.press("end", "x")
        await wait_for(pilot, lambda: editor.dirty)
        assert tab_label(app, editor) == "● run.sh"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty)
        assert path.read_bytes() == b"echo onex\r\necho two\r\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
        assert tab_label(app, editor) == "run.sh"


async def test_undoing_back_to_the_saved_text_is_clean(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(workspace / "main.py")
        assert editor is not None
        await pilot.press("x")
        await wait_for(pilot, lambda: editor.dirty)
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: not editor.dirty)


async def test_latin1_file_opens_with_a_notice_and_saves_back_as_latin1(workspace: Path) -> None:
    path = workspace / "old.txt"
    path.write_bytes("café\n".encode("latin-1"))
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None and editor.text == "café\n" and editor.encoding == "latin-1"
        assert any("Latin-1" in n.message for n in app._notifications)
        await pilot.press("end", "!", "ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty)
        assert path.read_bytes() == "café!\n".encode("latin-1")


async def test_binary_file_opens_read_only(workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"\0\1\2" * 10)
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        result = await main_screen(app).open_file(workspace / "blob.bin")
        await pilot.pause()
        assert result is None
        preview = main_screen(app).query_one(FilePreview)
        assert preview.read_only and "binary file" in preview.text
        assert any(n.title == "Opened read-only" for n in app._notifications)


@pytest.mark.parametrize(
    ("choice", "on_disk", "closed"),
    [
        ("save", "changed\n", True),
        ("discard", "X = 1\n", True),
        ("cancel", "X = 1\n", False),
    ],
)
async def test_closing_a_dirty_tab_asks(
    workspace: Path, choice: str, on_disk: str, closed: bool
) -> None:
    path = workspace / "src" / "util.py"
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None
        editor.area.load_text("changed\n")  # counts as an edit: Changed is posted
        editor.area.post_message(editor.area.Changed(editor.area))
        await wait_for(pilot, lambda: editor.dirty)
        await pilot.press("ctrl+w")
        await choose(app, pilot, choice)
        await pilot.pause()
        assert path.read_text() == on_disk
        assert (len(main_screen(app).editors) == 0) is closed


async def test_ctrl_w_closes_a_clean_editor_without_asking(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await main_screen(app).open_file(workspace / "main.py")
        await pilot.press("ctrl+w")
        await wait_for(pilot, lambda: not main_screen(app).editors)
        assert main_screen(app).query_one(TabbedContent).active == "tab-welcome"


async def test_quit_with_unsaved_changes_asks(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(workspace / "main.py")
        assert editor is not None
        await pilot.press("x")
        await wait_for(pilot, lambda: editor.dirty)
        assert main_screen(app).dirty_editors() == [editor]
        await pilot.press("ctrl+q")
        await choose(app, pilot, "cancel")
        assert app.is_running
        await pilot.press("ctrl+q")
        await choose(app, pilot, "save")
        await wait_for(pilot, lambda: not app.is_running)
    assert (workspace / "main.py").read_text().startswith("xdef main()")


async def test_clean_buffer_reloads_when_the_file_changes_on_disk(workspace: Path) -> None:
    path = workspace / "main.py"
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None
        path.write_text("print('changed outside')\n")
        await wait_for(pilot, lambda: editor.text == "print('changed outside')\n")
        assert not editor.dirty
        assert any(n.title == "Reloaded" for n in app._notifications)


@pytest.mark.parametrize("choice", ["reload", "keep"])
async def test_dirty_buffer_asks_when_the_file_changes_on_disk(
    workspace: Path, choice: str
) -> None:
    path = workspace / "main.py"
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None
        await pilot.press("x")
        await wait_for(pilot, lambda: editor.dirty)
        path.write_text("outside\n")
        await choose(app, pilot, choice)
        if choice == "reload":  # (the dialog's answer is handled just after it closes)
            await wait_for(pilot, lambda: editor.text == "outside\n" and not editor.dirty)
        else:
            assert editor.text.startswith("xdef main") and editor.dirty
            await pilot.pause(0.3)  # no second prompt for the same change
            assert not isinstance(app.screen, ChoiceDialog)


async def test_deleted_file_keeps_the_buffer_and_saving_recreates_it(workspace: Path) -> None:
    path = workspace / "main.py"
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None
        path.unlink()
        await wait_for(pilot, lambda: any(n.title == "File deleted" for n in app._notifications))
        assert editor.text.startswith("def main")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: path.exists())
        assert path.read_text() == "def main():\n    print('hello')\n"


async def test_find_next_previous_and_count(workspace: Path) -> None:
    path = workspace / "notes.txt"
    path.write_text("alpha beta\nBeta gamma\nbeta\n")
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None
        await pilot.press("ctrl+f")
        await pilot.press(*"beta")
        await pilot.pause()
        count = editor.find_bar.query_one("#find-count")
        assert editor.area.selection == ((0, 6), (0, 10))
        assert "1 of 3" in str(count.render())
        await pilot.press("enter")
        assert editor.area.selection == ((1, 0), (1, 4))  # case-insensitive: no capitals typed
        await pilot.press("enter")
        assert editor.area.selection == ((2, 0), (2, 4))
        await pilot.press("enter")  # wraps around
        assert editor.area.selection == ((0, 6), (0, 10))
        await pilot.press("up")  # previous, wrapping back
        assert editor.area.selection == ((2, 0), (2, 4))
        await pilot.press("escape")
        assert not editor.find_bar.has_class("-open")
        assert app.focused is editor.area


async def test_replace_one_and_all(workspace: Path) -> None:
    path = workspace / "notes.txt"
    path.write_text("cat cat\ncat\n")
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None
        await pilot.press("ctrl+r")
        await pilot.press(*"cat")
        await pilot.press("tab")  # to the replace field
        assert app.focused is editor.find_bar.query_one("#replace-input")
        await pilot.press(*"dog", "enter")
        await pilot.pause()
        assert editor.text == "dog cat\ncat\n"
        editor.find_bar.query_one("#replace-all", Button).press()
        await pilot.pause()
        assert editor.text == "dog dog\ndog\n" and editor.dirty
        editor.area.undo()  # replace all is one undo step
        await pilot.pause()
        assert editor.text == "dog cat\ncat\n"


async def test_go_to_line(workspace: Path) -> None:
    path = workspace / "long.py"
    path.write_text("".join(f"x{i} = {i}\n" for i in range(200)))
    app = SymphonyApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await main_screen(app).open_file(path)
        assert editor is not None
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press(*"abc", "enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)  # refused: not a number
        field = app.screen.query_one(Input)
        field.value = "150:3"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, InputDialog))
        assert editor.area.cursor_location == (149, 2)
        assert editor.area.scroll_offset.y > 100
        assert app.focused is editor.area


async def test_quick_open_fuzzy_matches_and_opens(workspace: Path) -> None:
    (workspace / "src" / "editor_widget.py").write_text("W = 1\n")
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, QuickOpen))
        dialog = app.screen
        assert isinstance(dialog, QuickOpen)
        await wait_for(pilot, lambda: dialog.files is not None)
        assert dialog.files is not None
        assert "build/out.bin" not in dialog.files and "secret.log" not in dialog.files
        await pilot.press(*"edwid")
        results = dialog.query_one(OptionList)
        await wait_for(pilot, lambda: results.option_count == 1)
        assert results.get_option_at_index(0).id == "src/editor_widget.py"
        await pilot.press("enter")
        await wait_for(pilot, lambda: main_screen(app).active_editor is not None)
        editor = main_screen(app).active_editor
        assert editor is not None and editor.path == workspace / "src" / "editor_widget.py"


async def test_new_rename_and_delete_from_the_explorer(workspace: Path) -> None:
    app = SymphonyApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        tree = screen.query_one(Explorer)
        await wait_for(pilot, lambda: len(tree.root.children) > 0)
        tree.focus()
        # New file: at the root (the cursor is on the root line).
        tree.cursor_line = 0
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press(*"main.py", "enter")
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)  # exists: refused
        app.screen.query_one(Input).value = "pkg/new.py"
        await pilot.press("enter")
        await wait_for(pilot, lambda: (workspace / "pkg" / "new.py").exists())
        await wait_for(pilot, lambda: screen.active_editor is not None)
        editor = screen.active_editor
        assert editor is not None and editor.path == workspace / "pkg" / "new.py"
        # Rename: the open editor follows the file.
        tree.focus()
        await wait_for(pilot, lambda: "pkg" in [str(n.label) for n in tree.root.children])
        pkg = next(n for n in tree.root.children if str(n.label) == "pkg")
        pkg.expand()
        await wait_for(pilot, lambda: len(pkg.children) == 1)
        tree.move_cursor(pkg.children[0])
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        app.screen.query_one(Input).value = "renamed.py"
        await pilot.press("enter")
        await wait_for(pilot, lambda: (workspace / "pkg" / "renamed.py").exists())
        assert not (workspace / "pkg" / "new.py").exists()
        assert editor.path == workspace / "pkg" / "renamed.py"
        assert tab_label(app, editor) == "renamed.py"
        # Delete asks, naming the file; cancel keeps it, delete removes it.
        await wait_for(pilot, lambda: "pkg" in [str(n.label) for n in tree.root.children])
        target = workspace / "README.md"
        tree.move_cursor(next(n for n in tree.root.children if str(n.label) == "README.md"))
        tree.focus()
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert "README.md" in str(app.screen.message)
        await choose(app, pilot, "cancel")
        assert target.exists()
        await pilot.press("delete")
        await choose(app, pilot, "delete")
        await wait_for(pilot, lambda: not target.exists())
        await wait_for(pilot, lambda: "README.md" not in [str(n.label) for n in tree.root.children])


async def test_editor_follows_editor_config(workspace: Path) -> None:
    app = SymphonyApp(
        workspace,
        overrides=[
            "ide.editor.line_numbers=false",
            "ide.editor.word_wrap=true",
            "ide.editor.tab_size=2",
            "ide.editor.insert_spaces=false",
        ],
    )
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await main_screen(app).open_file(workspace / "main.py")
        assert editor is not None
        area = editor.area
        assert not area.show_line_numbers and area.soft_wrap
        assert area.indent_width == 2 and area.indent_type == "tabs"
        await pilot.press("tab")
        assert area.text.startswith("\tdef main")
