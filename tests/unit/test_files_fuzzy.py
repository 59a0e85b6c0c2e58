"""The quick-open scorer: subsequence matching, ranking bonuses, limits."""

from __future__ import annotations

from engine.files.fuzzy import rank, score

PATHS = [
    "symphony_tui/widgets/editor.py",
    "symphony_tui/screens/editor_dialogs.py",
    "tests/tui/test_editor.py",
    "engine/files/text.py",
    "engine/runtime.py",
    "docs/editor.md",
    "README.md",
]


def test_subsequence_matches_and_non_matches() -> None:
    assert score("edpy", "symphony_tui/widgets/editor.py") is not None
    assert score("EDITOR", "docs/editor.md") is not None  # case-insensitive
    assert score("xyz", "docs/editor.md") is None
    assert score("rotide", "docs/editor.md") is None  # order matters


def test_positions_point_at_the_matched_characters() -> None:
    found = score("edit", "docs/editor.md")
    assert found is not None
    assert "".join("docs/editor.md"[i] for i in found.positions) == "edit"
    assert found.positions == (5, 6, 7, 8)  # in the base name, not "d" of "docs"


def test_base_name_match_beats_folder_match() -> None:
    paths = ["editor/zzz.txt", "src/editor.txt"]
    assert rank("editor", paths)[0].path == "src/editor.txt"


def test_consecutive_and_word_starts_beat_scattered() -> None:
    # Same length; "fb" starts both words of foo_bar but is scattered in "xfxxbx".
    assert rank("fb", ["xfxxbx.py", "foo_bar.py"])[0].path == "foo_bar.py"
    assert rank("abc", ["a_x_b_x_c", "xx_abcxxx"])[0].path == "xx_abcxxx"
    assert rank("text", PATHS)[0].path == "engine/files/text.py"


def test_shorter_path_wins_a_tie() -> None:
    assert rank("readme", ["docs/old/README.md", "README.md"])[0].path == "README.md"


def test_empty_query_lists_everything_up_to_the_limit() -> None:
    paths = [f"f{i}.py" for i in range(100)]
    found = rank("", paths, limit=50)
    assert len(found) == 50
    assert found[0].path == "f0.py"


def test_rank_returns_only_matches_best_first() -> None:
    found = rank("editor", PATHS)
    assert {m.path for m in found} == {
        "symphony_tui/widgets/editor.py",
        "symphony_tui/screens/editor_dialogs.py",
        "tests/tui/test_editor.py",
        "docs/editor.md",
    }
    scores = [m.score for m in found]
    assert scores == sorted(scores, reverse=True)
    assert found[0].path == "docs/editor.md"  # base name "editor", shortest path


def test_regex_characters_in_the_query_are_literal() -> None:
    assert rank("a.b", ["a.b", "axb", "a/b.c"])[0].path == "a.b"
    assert rank("(", ["x(y"])[0].path == "x(y"
