"""The emulator shows what tmux shows for the same bytes: text, colours, attributes, cursor.

Each case is played into a fresh tmux pane of the same size (``cat`` with output
post-processing off, so the bytes arrive unchanged) and into :class:`AvtEmulator`; the screens
are compared cell by cell, styles included, along with the cursor, the modes tmux reports and
the history. Known differences are kept as strict xfails with the reason, so a fix (or a
regression of the reference) shows up.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from engine.terminal.emulator import (
    DEFAULT_STYLE,
    AvtEmulator,
    Emulator,
    Segment,
    Style,
    make_emulator,
    render_plain,
)
from engine.terminal.modes import Modes
from tests.terminal_support import (
    TmuxReference,
    TmuxScreen,
    as_laid_out,
    compare_cells,
    segment_cells,
)

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is the reference")


@dataclass(frozen=True)
class Case:
    """A byte stream and the screen size to play it at."""

    data: bytes
    cols: int = 80
    rows: int = 24
    # tmux's plain capture shows DEC line-drawing cells as their ASCII letters; compare the
    # text read from its styled capture (which marks them) instead.
    line_drawing: bool = False
    # Compare after composing and dropping zero-width code points (see engine.terminal.unicode).
    unicode_layout: bool = False
    history: bool = True


def _numbered(count: int, text: bytes = b"line") -> bytes:
    return b"".join(b"%s %03d\r\n" % (text, i) for i in range(count))


CASES: dict[str, Case] = {
    "plain text wrapping at 80 columns": Case(
        b"".join(b"%03d " % i + b"abcdefghij" * (i % 20) + b"\r\n" for i in range(60)) + b"end"
    ),
    "bare LF and CR": Case(b"abc\rX\nY\x08\x08Z\x0bV\x0cF\r\n\x08\x08start"),
    "LF at the bottom scrolls": Case(b"".join(b"r%d\n" % i for i in range(30)), 20, 6),
    "SGR 16 colours": Case(
        b"".join(b"\x1b[%dmfg%d " % (c, c) for c in [*range(30, 38), *range(90, 98)])
        + b"\x1b[0m\r\n"
        + b"".join(b"\x1b[%dmbg%d " % (c, c) for c in [*range(40, 48), *range(100, 108)])
        + b"\x1b[39;49mdefault\r\n"
    ),
    "SGR 256 colours": Case(
        b"".join(b"\x1b[38;5;%dm%d" % (n, n % 10) for n in range(256))
        + b"\x1b[0m\r\n"
        + b"".join(b"\x1b[48;5;%dm%d" % (n, n % 10) for n in range(0, 256, 3))
        + b"\x1b[m\r\n"
    ),
    "SGR truecolor": Case(
        b"".join(b"\x1b[38;2;%d;%d;%dm#" % (i * 8, 255 - i * 8, i * 37 % 256) for i in range(32))
        + b"\x1b[48;2;10;20;30mbg\x1b[0m plain\r\n"
    ),
    "SGR attributes": Case(
        b"\x1b[1mbold \x1b[22m\x1b[2mdim \x1b[22m\x1b[3mitalic \x1b[23m"
        b"\x1b[4munder \x1b[24m\x1b[5mblink \x1b[25m\x1b[7mreverse \x1b[27m"
        b"\x1b[9mstrike \x1b[29m\x1b[1;3;4;31;44mall\x1b[0m done\r\n"
        b"\x1b[7;31mreversed red\x1b[m\r\n"
    ),
    "cursor movement CUP CUU CUD CUF CUB CHA VPA CNL CPL and save/restore": Case(
        b"0123456789"
        * 8
        + b"\x1b[5;10HA\x1b[2AB\x1b[3BC\x1b[4CD\x1b[6DE\x1b[HF\x1b[10;70fG\x1b[20GH"
        b"\x1b[12dI\x1b[2EJ\x1b[FK\x1b7\x1b[15;15HL\x1b8M\x1b[sN\x1b[1;1H\x1b[uO"
        b"\x1b[99;99HP"
    ),
    "erase ED EL ECH": Case(
        b"".join(b"%02d" % i + b"abcdefghij" * 7 + b"\r\n" for i in range(23))
        + b"\x1b[3;5H\x1b[K\x1b[4;5H\x1b[1K\x1b[5;5H\x1b[2K\x1b[10;40H\x1b[J"
        b"\x1b[8;20H\x1b[1J\x1b[12;3H\x1b[5X"
    ),
    "erase with a background colour": Case(
        b"text\r\n" * 5 + b"\x1b[44m\x1b[2J\x1b[3;3H\x1b[41m\x1b[K\x1b[0mafter"
    ),
    "scroll region DECSTBM with IND RI NEL SU SD": Case(
        b"".join(b"row%02d\r\n" % i for i in range(23))
        + b"row23\x1b[5;10r\x1b[10;1H\n\n\nA\x1b[5;1H\x1bM\x1bMB\x1b[7;1H\x1bD\x1bEC"
        b"\x1b[2S\x1b[1T\x1b[r\x1b[24;1H",
        # tmux keeps lines scrolled out of a partial region; see the known differences.
        history=False,
    ),
    "origin mode": Case(b"\x1b[5;10r\x1b[?6h\x1b[1;1HO\x1b[?6l\x1b[r\x1b[1;1Htop"),
    "insert and delete lines and characters": Case(
        b"".join(b"line%02d abcdefghijklmnop\r\n" % i for i in range(20))
        + b"\x1b[3;1H\x1b[2L\x1b[8;1H\x1b[3M\x1b[10;5H\x1b[4@XY\x1b[12;3H\x1b[5P"
        b"\x1b[4h\x1b[14;2Hins\x1b[4l"
    ),
    "alternate screen 1049 entered and left": Case(
        b"primary one\r\nprimary two\x1b[?1049h\x1b[H\x1b[2Jalt screen text\r\nmore\x1b[?1049lback"
    ),
    "alternate screen 1049 still on": Case(
        _numbered(30) + b"\x1b[?1049h\x1b[H\x1b[2J\x1b[31malt\x1b[0m\r\n\x1b[5;5Hhere"
    ),
    "alternate screen 47": Case(b"primary 47\x1b[?47hALT47\x1b[?47l!"),
    "alternate screen 1047": Case(b"primary 1047\x1b[?1047hALT1047\x1b[?1047l!"),
    "wide characters CJK and emoji": Case(
        "中文字符 mixed ascii 😀 emoji 🎉 done\r\n".encode()
        + ("宽" * 45).encode()
        + b"\r\n"
        + b"x" * 79
        + "中\r\n\uff21\uff22\uff23\x1b[Gz\r\nab中cd\x1b[4G!".encode()
    ),
    "tabs and tab stops": Case(
        b"a\tb\tc\td\r\n\x1b[3g\x1b[5G\x1bH\x1b[15G\x1bH\r\tX\tY\tZ\r\n"
        b"\x1b[3g\tT\r\n\x1bc1\t2\t3\x1b[ZV\x1b[2ZU"
    ),
    "autowrap off": Case(b"\x1b[?7l" + b"x" * 100 + b"END\x1b[?7h\r\n" + b"y" * 85),
    "DEC line drawing": Case(b"\x1b(0lqqk\r\nx  x\r\nmqqj\x1b(B ascii", line_drawing=True),
    "terminal reset RIS": Case(b"before\x1b[31m\x1bcafter"),
    "DECALN": Case(b"\x1b#8\x1b[2;2Hhi", 20, 5),
    "scrollback": Case(
        b"".join(b"history %03d " % i + b"=" * (i % 50) + b"\r\n" for i in range(200)) + b"tail"
    ),
    "scrollback with colours": Case(
        b"".join(b"\x1b[3%dmhist %03d\x1b[0m\r\n" % (i % 8, i) for i in range(60)) + b"end",
        40,
        10,
    ),
    "ED 3 clears the history": Case(
        _numbered(50, b"old") + b"\x1b[H\x1b[2J\x1b[3J" + _numbered(30, b"new"), 40, 10
    ),
    "modes and title": Case(
        b"\x1b[?2004h\x1b[?1h\x1b[?1000h\x1b[?1006h\x1b[?25l\x1b]2;my title\x07text"
    ),
    "reset after modes": Case(
        b"\x1b[?1h\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b[?25lx\x1bcafter reset"
    ),
    "combining accents": Case("e\u0301 cafe\u0301 n\u0303 o\u0308|".encode(), unicode_layout=True),
    "emoji variation selectors": Case(
        "\u26a0\ufe0f warn \u2714\ufe0f ok|".encode(), unicode_layout=True
    ),
}

KNOWN_DIFFERENCES = [
    pytest.param(
        Case(b"\x1b[?1h\x1b[?25l\x1b[!pabc"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="tmux's soft reset (DECSTR) keeps application cursor keys and a hidden"
            " cursor; xterm and pyavt reset both",
        ),
        id="soft reset",
    ),
    pytest.param(
        Case(b"\x1b[?1049hx\x1bcafter"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="tmux stays on the alternate screen after a full reset (RIS); xterm and"
            " pyavt return to the main screen",
        ),
        id="reset on the alternate screen",
    ),
    pytest.param(
        Case(_numbered(40) + b"\x1bcafter", 20, 5),
        marks=pytest.mark.xfail(
            strict=True, reason="a full reset (RIS) empties pyavt's history; tmux keeps it"
        ),
        id="reset keeps the history",
    ),
    pytest.param(
        Case(b"\x1b[1;2mbold and dim\x1b[0m"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="pyavt keeps one intensity per cell (bold or faint); tmux keeps both",
        ),
        id="bold and dim together",
    ),
    pytest.param(
        Case(b"x" * 80 + b"\tW"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="a tab in the pending-wrap state: pyavt (like xterm) stays on the last"
            " column, so W overwrites it; tmux wraps first",
        ),
        id="tab at the right margin",
    ),
    pytest.param(
        Case(b"1\t2\x1b[2IW"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="tmux 3.3 ignores CHT (CSI I); pyavt moves forward by tab stops, like xterm",
        ),
        id="CHT",
    ),
    pytest.param(
        Case("\u0e01\u0e34\u0e19\u0e02|".encode(), unicode_layout=True),
        marks=pytest.mark.xfail(
            strict=True,
            reason="combining marks of complex scripts (Thai, Devanagari…) take a cell of"
            " their own in pyavt; tmux puts them in the previous cell",
        ),
        id="Thai combining vowel",
    ),
    pytest.param(
        Case("\U0001f468\u200d\U0001f469\u200d\U0001f467 family|".encode(), unicode_layout=True),
        marks=pytest.mark.xfail(
            strict=True,
            reason="tmux joins an emoji ZWJ sequence into one 2-cell character; we lay out"
            " each emoji (as wcwidth-based programs do)",
        ),
        id="emoji ZWJ sequence",
    ),
    pytest.param(
        Case(b"".join(b"row%02d\r\n" % i for i in range(24)) + b"\x1b[5;10r\x1b[10;1H\n\n\n\x1b[r"),
        marks=pytest.mark.xfail(
            strict=True,
            reason="tmux moves lines scrolled out of a partial scroll region into its history;"
            " pyavt, like xterm, only keeps lines scrolled off the whole screen",
        ),
        id="history of a partial scroll region",
    ),
]


@pytest.fixture(scope="module")
def tmux(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TmuxReference]:
    reference = TmuxReference(tmp_path_factory.mktemp("tmux"))
    yield reference
    reference.close()


def _emulate(case: Case) -> AvtEmulator:
    emulator = AvtEmulator(case.cols, case.rows)
    emulator.feed(case.data)
    return emulator


def _assert_like_tmux(emulator: AvtEmulator, screen: TmuxScreen, case: Case) -> None:
    theirs = screen.cells
    if case.unicode_layout:
        theirs = [as_laid_out(row) for row in theirs]
    ours = [segment_cells(row) for row in emulator.lines()]
    problems = compare_cells(ours, theirs)
    assert not problems, "\n".join(problems[:20])

    expected_text = screen.text
    if case.line_drawing or case.unicode_layout:
        expected_text = ["".join(char for char, _ in row).rstrip(" ") for row in theirs]
    assert emulator.text() == expected_text
    assert render_plain(emulator.lines()) == expected_text

    cursor = emulator.cursor()
    # tmux reports x = cols in the pending-wrap state; ours stays on the last column, where a
    # front end draws it.
    assert (cursor.x, cursor.y) == (min(screen.cursor[0], case.cols - 1), screen.cursor[1])
    assert cursor.visible == screen.cursor_visible

    modes = emulator.modes
    assert modes.alt_screen == screen.alt_screen
    assert modes.app_cursor == screen.app_cursor
    assert modes.mouse == screen.mouse
    assert modes.mouse_sgr == screen.mouse_sgr
    assert modes.cursor_visible == screen.cursor_visible
    if emulator.title():
        assert emulator.title() == screen.title

    if case.history and not screen.alt_screen:
        assert emulator.scrollback_len() == screen.history_size
        history = render_plain(emulator.scrollback_lines(0, emulator.scrollback_len()))
        assert history == screen.history_text


@needs_tmux
@pytest.mark.parametrize("name", list(CASES))
def test_screen_matches_tmux(name: str, tmux: TmuxReference) -> None:
    case = CASES[name]
    _assert_like_tmux(_emulate(case), tmux.play(case.data, case.cols, case.rows), case)


@needs_tmux
@pytest.mark.parametrize("case", KNOWN_DIFFERENCES)
def test_known_differences_from_tmux(case: Case, tmux: TmuxReference) -> None:
    screen = tmux.play(case.data, case.cols, case.rows)
    emulator = _emulate(case)
    _assert_like_tmux(emulator, screen, case)
    if not case.history:
        return
    # The partial-scroll-region case differs only in the history.
    assert emulator.scrollback_len() == screen.history_size


@needs_tmux
@pytest.mark.parametrize(
    ("size", "new_size"),
    [((80, 24), (40, 24)), ((80, 24), (120, 30)), ((80, 24), (80, 10)), ((40, 10), (80, 24))],
    ids=["narrower", "wider and taller", "shorter", "from small to large"],
)
def test_resize_reflows_like_tmux(
    size: tuple[int, int], new_size: tuple[int, int], tmux: TmuxReference
) -> None:
    data = b"".join(b"%02d " % i + b"abcdefghij" * (i % 9) + b"\r\n" for i in range(40))
    data += b"prompt$ "
    after = b"\x1b[32mtyped\x1b[0m"
    screen = tmux.play(data, *size, resize=new_size, after=after)
    emulator = AvtEmulator(*size)
    emulator.feed(data)
    emulator.resize(*new_size)
    emulator.feed(after)
    assert (emulator.cols, emulator.rows) == new_size
    _assert_like_tmux(emulator, screen, Case(data, *new_size))


# -- chunking: the same bytes in any pieces give the same screen ---------------------------


def _state(emulator: AvtEmulator) -> tuple[object, ...]:
    return (
        emulator.lines(),
        emulator.cursor(),
        emulator.modes,
        emulator.title(),
        emulator.scrollback_len(),
        emulator.scrollback_lines(0, emulator.scrollback_len()),
    )


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if not case.unicode_layout])
def test_any_chunking_gives_the_same_screen(name: str) -> None:
    case = CASES[name]
    whole = _emulate(case)
    rng = random.Random(name)
    for sizes in ([1], [2, 3, 5, 7, 11], [rng.randrange(1, 40) for _ in range(50)]):
        emulator = AvtEmulator(case.cols, case.rows)
        data, position, turn = case.data, 0, 0
        while position < len(data):
            size = sizes[turn % len(sizes)]
            emulator.feed(data[position : position + size])
            # Reading between pieces exercises the row cache's invalidation.
            if turn % 3 == 0:
                emulator.lines()
            position += size
            turn += 1
        assert _state(emulator) == _state(whole), sizes


def test_utf8_split_across_feeds_is_decoded() -> None:
    text = "é€😀中"
    data = text.encode()
    for split in range(1, len(data)):
        emulator = AvtEmulator(20, 2)
        emulator.feed(data[:split])
        emulator.feed(data[split:])
        assert emulator.text()[0] == text, split


def test_a_combining_mark_split_from_its_base_keeps_the_layout() -> None:
    # Composition needs both in one read; a mark arriving alone is dropped, never given a cell.
    emulator = AvtEmulator(20, 2)
    emulator.feed(b"cafe")
    emulator.feed("\u0301|".encode())
    assert emulator.text()[0] == "cafe|"
    assert emulator.cursor().x == 5


def test_invalid_utf8_shows_replacement_characters() -> None:
    # tmux drops such bytes; we show U+FFFD like xterm and VTE, so corruption stays visible.
    emulator = AvtEmulator(20, 2)
    emulator.feed(b"ok \xff bad \xc3( end")
    assert emulator.text()[0] == "ok \ufffd bad \ufffd( end"


def test_background_colour_erase_fills_the_erased_cells() -> None:
    # tmux draws these but leaves them out of ``capture-pane``; check them directly.
    emulator = _emulate(CASES["erase with a background colour"])
    lines = emulator.lines()
    assert [segment.style.bg for segment in lines[0]] == ["color(4)"]
    row = segment_cells(lines[2])
    assert row[0] == (" ", Style(bg="color(4)"))
    assert "".join(char for char, _ in row[2:7]) == "after"
    assert {style.bg for _, style in row[7:]} == {"color(1)"}


# -- styles ---------------------------------------------------------------------------------


def test_colours_are_rich_colour_strings() -> None:
    emulator = AvtEmulator(40, 2)
    emulator.feed(b"\x1b[31;48;5;200mA\x1b[38;2;1;2;255;4;7mB\x1b[0mC")
    a, b, c = emulator.lines()[0][:3]
    assert a == Segment("A", Style(fg="color(1)", bg="color(200)"))
    assert b == Segment("B", Style(fg="#0102ff", bg="color(200)", underline=True, reverse=True))
    assert c.style is DEFAULT_STYLE
    assert c.text.startswith("C")


def test_rows_cover_the_full_width_and_wide_characters_appear_once() -> None:
    emulator = AvtEmulator(10, 2)
    emulator.feed("中a".encode())
    (row, _) = emulator.lines()
    assert "".join(segment.text for segment in row) == "中a" + " " * 7  # 中 covers two cells


# -- modes ----------------------------------------------------------------------------------


def _modes_after(*chunks: bytes) -> Modes:
    emulator = AvtEmulator(80, 24)
    for chunk in chunks:
        emulator.feed(chunk)
    return emulator.modes


def test_mode_defaults() -> None:
    assert _modes_after() == Modes()


@pytest.mark.parametrize(
    ("sequence", "field", "value"),
    [
        (b"\x1b[?2004h", "bracketed_paste", True),
        (b"\x1b[?1h", "app_cursor", True),
        (b"\x1b[?1049h", "alt_screen", True),
        (b"\x1b[?47h", "alt_screen", True),
        (b"\x1b[?1047h", "alt_screen", True),
        (b"\x1b[?25l", "cursor_visible", False),
        (b"\x1b[?1000h", "mouse_mode", 1000),
        (b"\x1b[?1002h", "mouse_mode", 1002),
        (b"\x1b[?1003h", "mouse_mode", 1003),
        (b"\x1b[?1006h", "mouse_sgr", True),
        (b"\x1b[?1004h", "focus_events", True),
    ],
)
def test_modes_follow_decset_and_decrst(sequence: bytes, field: str, value: object) -> None:
    on = _modes_after(sequence)
    assert getattr(on, field) == value
    off = _modes_after(sequence, sequence[:-1] + (b"l" if sequence.endswith(b"h") else b"h"))
    assert getattr(off, field) == getattr(Modes(), field)


def test_modes_split_at_every_byte() -> None:
    stream = (
        b"text\x1b[31m\x1b[?2004h more \x1b[?1;1049h\x1b]0;the title\x1b\\"
        b"\x1b[?1000;1006h tail \x1b[?25l"
    )
    expected = Modes(
        bracketed_paste=True,
        app_cursor=True,
        alt_screen=True,
        cursor_visible=False,
        mouse=True,
        mouse_mode=1000,
        mouse_sgr=True,
    )
    for split in range(len(stream) + 1):
        emulator = AvtEmulator(80, 24)
        emulator.feed(stream[:split])
        emulator.feed(stream[split:])
        assert emulator.modes == expected, split
        assert emulator.title() == "the title", split


def test_title_from_osc_0_and_2() -> None:
    emulator = AvtEmulator(80, 24)
    emulator.feed(b"\x1b]0;first\x07")
    assert emulator.title() == "first"
    emulator.feed(b"\x1b]2;s\xc3\xa9cond\x1b\\")
    assert emulator.title() == "sécond"
    emulator.feed(b"\x1b]7;file://host/tmp\x07")  # not a title
    assert emulator.title() == "sécond"


def test_reset_clears_modes() -> None:
    modes = _modes_after(b"\x1b[?2004h\x1b[?1h\x1b[?1049h\x1b[?1000h\x1b]2;t\x07", b"\x1bc")
    assert modes == Modes()


# -- scrollback -----------------------------------------------------------------------------


@needs_tmux
def test_long_history_matches_tmux_across_both_parts(tmux: TmuxReference) -> None:
    # More than pyavt keeps itself (engine.terminal.history.RECENT): both parts are compared.
    case = Case(
        b"".join(
            b"\x1b[3%dmrow %04d\x1b[0m " % (i % 8, i) + b"-" * (i % 23) + b"\r\n"
            for i in range(1500)
        )
        + b"end",
        40,
        10,
    )
    screen = tmux.play(case.data, case.cols, case.rows)
    emulator = _emulate(case)
    assert screen.history_size == 1491
    _assert_like_tmux(emulator, screen, case)
    styled = [segment_cells(row) for row in emulator.scrollback_lines(0, 3)]
    assert styled[1][0] == ("r", Style(fg="color(1)"))


def test_scrollback_is_bounded_and_keeps_the_newest_lines() -> None:
    emulator = AvtEmulator(20, 5, scrollback=100)
    emulator.feed(_numbered(1000))
    assert emulator.scrollback_len() == 100
    assert emulator._slow_history_count() == 100
    history = render_plain(emulator.scrollback_lines(0, 100))
    assert history[0] == "line 896"
    assert history[-1] == "line 995"
    assert emulator.text()[0] == "line 996"
    assert render_plain(emulator.scrollback_lines(-2, 100)) == ["line 994", "line 995"]
    assert emulator.scrollback_lines(50, 10) == []


def test_scrollback_count_stays_right_through_clears_resizes_and_alt_screen() -> None:
    emulator = AvtEmulator(20, 5, scrollback=700)
    steps = [
        _numbered(30),
        _numbered(600),  # pyavt's own part overflows into ours
        b"\x1b[H\x1b[2J\x1b[3J",
        _numbered(3),
        b"\x1b[?1049h" + _numbered(20),
        b"\x1b[?1049l",
        _numbered(900),  # ours overflows too
        b"\x1bc",  # a full reset hides everything
        _numbered(10),
        b"\x1b[1;3r\x1b[3H\n\n\x1b[r",  # a region at the top also feeds the history
        b"\x1b[5;1H\x1b[2S\x1b[1T",
    ]
    for step in steps:
        emulator.feed(step)
        expected = 0 if emulator.modes.alt_screen else emulator._slow_history_count()
        assert emulator.scrollback_len() == expected, step[:20]
    for cols, rows in ((10, 8), (30, 3)):
        emulator.resize(cols, rows)
        assert emulator.scrollback_len() == emulator._slow_history_count()


def test_history_count_is_right_after_random_output() -> None:
    rng = random.Random(3)
    pieces = [
        b"word ",
        b"a longer line of text that wraps around the narrow screen ",
        b"\r\n",
        b"\n",
        b"\x1bM",
        b"\x1bD",
        b"\x1b[2S",
        b"\x1b[T",
        b"\x1b[H",
        b"\x1b[99;1H",
        b"\x1b[2J",
        b"\x1b[1;4r",
        b"\x1b[3;6r",
        b"\x1b[r",
        b"\x1b[L",
        b"\x1b[M",
        "宽字".encode(),
    ]
    emulator = AvtEmulator(16, 6, scrollback=600)
    for _ in range(3000):
        emulator.feed(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 6))))
        assert emulator.scrollback_len() == emulator._slow_history_count()
    assert emulator.scrollback_len() > 500  # the test reached the part kept outside pyavt


def test_ed3_hides_the_history_even_when_full() -> None:
    emulator = AvtEmulator(20, 5, scrollback=20)
    emulator.feed(_numbered(100) + b"\x1b[3J")
    assert emulator.scrollback_len() == 0
    emulator.feed(_numbered(3, b"new"))
    assert render_plain(emulator.scrollback_lines(0, 10)) == ["line 096", "line 097", "line 098"]


def test_dropped_rows_let_a_scrolled_back_view_stay_on_its_rows() -> None:
    emulator = AvtEmulator(20, 5, scrollback=600)
    emulator.feed(_numbered(300))
    assert emulator.scrollback_dropped == 0
    anchor = emulator.scrollback_dropped + 100  # a view scrolled back to "line 100"
    assert render_plain(emulator.scrollback_lines(100, 101)) == ["line 100"]
    emulator.feed(_numbered(1000, b"more"))
    dropped = emulator.scrollback_dropped
    assert dropped == 300 + 1000 - 4 - 600  # four rows are still on screen, 600 kept
    assert anchor - dropped < 0  # that row is gone; the oldest kept one is now first
    assert render_plain(emulator.scrollback_lines(0, 1)) == ["more 396"]
    emulator.feed(_numbered(2, b"last"))
    assert emulator.scrollback_dropped == dropped + 2
    assert render_plain(emulator.scrollback_lines(0, 1)) == ["more 398"]
    emulator.feed(b"\x1b[3J")
    assert emulator.scrollback_dropped == dropped + 2 + 600
    assert emulator.scrollback_len() == 0


def test_transcript_spans_both_parts_of_the_history() -> None:
    emulator = AvtEmulator(10, 3, scrollback=2000)
    long_line = b"0123456789" * 3 + b"abc"  # four rows at 10 columns
    emulator.feed(_numbered(600) + long_line + b"\r\n" + _numbered(498, b"tail"))
    lines = emulator.transcript().splitlines()
    # The long line's first rows went to the old part, its last ones stayed in pyavt's.
    assert lines[600] == long_line.decode()
    assert lines[0] == "line 000"
    assert lines[-1] == "tail 497"
    assert len(lines) == 600 + 1 + 498


def test_transcript_joins_wrapped_lines_and_keeps_the_main_screen() -> None:
    emulator = AvtEmulator(10, 3)
    emulator.feed(b"0123456789abcdef\r\n" + _numbered(5) + b"\x1b[?1049hfull screen app")
    transcript = emulator.transcript()
    assert transcript.startswith("0123456789abcdef\nline 000\n")
    assert transcript.endswith("line 004\n")
    assert "full screen app" not in transcript


# -- construction ---------------------------------------------------------------------------


def test_make_emulator_gives_an_emulator_of_the_size() -> None:
    emulator: Emulator = make_emulator(132, 43, scrollback=5)
    assert (emulator.cols, emulator.rows) == (132, 43)
    assert len(emulator.lines()) == 43
    assert emulator.scrollback_len() == 0


@pytest.mark.parametrize(("cols", "rows"), [(0, 24), (80, 0)])
def test_a_screen_needs_cells(cols: int, rows: int) -> None:
    with pytest.raises(ValueError, match="at least 1x1"):
        AvtEmulator(cols, rows)
