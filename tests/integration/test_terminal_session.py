"""PTY sessions with real programs: output on screen, input, resize, exit status, close, floods."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.terminal.emulator import Style
from engine.terminal.session import PtySession, Snapshot, TerminalError


def _env(home: Path) -> dict[str, str]:
    """A small, predictable environment for an interactive /bin/sh."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "PS1": "$ ", "ENV": ""}


def wait_until(
    session: PtySession, predicate: Callable[[Snapshot], bool], timeout: float = 15.0
) -> Snapshot:
    deadline = time.monotonic() + timeout
    while True:
        snapshot = session.snapshot()
        if predicate(snapshot):
            return snapshot
        if time.monotonic() > deadline:
            screen = "\n".join(snapshot.text())
            raise AssertionError(f"the screen never got there; it shows:\n{screen}")
        time.sleep(0.02)


def shows(text: str) -> Callable[[Snapshot], bool]:
    return lambda snapshot: any(text in row for row in snapshot.text())


def test_command_output_reaches_the_screen(tmp_path: Path) -> None:
    with PtySession(["/bin/sh", "-c", "printf 'hello\\nworld\\n'"], cwd=tmp_path) as session:
        assert session.wait(10) == 0
        assert session.snapshot().text()[:3] == ["hello", "world", ""]
        assert session.bytes_read == len(b"hello\r\nworld\r\n")
        assert session.pid is not None
        assert not session.alive


def test_colours_reach_the_screen(tmp_path: Path) -> None:
    argv = ["/bin/sh", "-c", "printf '\\033[31mred\\033[0m plain\\033[1;48;5;22mbold'"]
    with PtySession(argv, cwd=tmp_path) as session:
        session.wait(10)
        row = session.snapshot().lines[0]
        assert row[0].text == "red"
        assert row[0].style == Style(fg="color(1)")
        assert row[1].text.startswith(" plain")
        assert row[2].text == "bold"
        assert row[2].style == Style(bg="color(22)", bold=True)


def test_the_program_sees_the_terminal_it_runs_in(tmp_path: Path) -> None:
    argv = ["/bin/sh", "-c", 'echo "$TERM $COLORTERM [$COLUMNS$LINES]"; pwd; stty size']
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "80", "LINES": "24"}  # stale values dropped
    with PtySession(argv, cwd=tmp_path, env=env, cols=90, rows=20) as session:
        session.wait(10)
        assert session.text()[:3] == [
            "xterm-256color truecolor []",
            str(tmp_path),
            "20 90",
        ]


def test_an_interactive_shell_runs_what_is_typed(tmp_path: Path) -> None:
    with PtySession(["/bin/sh"], cwd=tmp_path, env=_env(tmp_path)) as session:
        wait_until(session, shows("$"))
        session.write("echo $((6 * 7))\r")
        snapshot = wait_until(session, lambda s: "42" in s.text())
        assert snapshot.alive
        assert snapshot.exit_status is None
        session.write(b"exit 5\r")
        assert session.wait(10) == 5


def test_resize_reaches_the_program(tmp_path: Path) -> None:
    with PtySession(["/bin/sh"], cwd=tmp_path, env=_env(tmp_path)) as session:
        wait_until(session, shows("$"))
        session.resize(100, 30)
        snapshot = session.snapshot()
        assert (snapshot.cols, snapshot.rows, len(snapshot.lines)) == (100, 30, 30)
        session.write("stty size\r")
        wait_until(session, lambda s: "30 100" in s.text())


def test_exit_status_of_a_command(tmp_path: Path) -> None:
    with PtySession(["/bin/sh", "-c", "exit 3"], cwd=tmp_path) as session:
        assert session.wait(10) == 3
        assert session.exit_status == 3
        snapshot = session.snapshot()
        assert not snapshot.alive
        assert snapshot.exit_status == 3


def test_a_signal_gives_a_negative_status(tmp_path: Path) -> None:
    with PtySession(["/bin/sh", "-c", "kill -TERM $$"], cwd=tmp_path) as session:
        assert session.wait(10) == -signal.SIGTERM


def test_close_hangs_up_the_program(tmp_path: Path) -> None:
    session = PtySession(["/bin/sh", "-c", "echo ready; sleep 100"], cwd=tmp_path).start()
    wait_until(session, shows("ready"))
    started = time.monotonic()
    assert session.close(timeout=5) == -signal.SIGHUP
    assert time.monotonic() - started < 2
    assert session.close() == -signal.SIGHUP  # idempotent


def test_close_kills_a_program_that_ignores_sighup(tmp_path: Path) -> None:
    argv = ["/bin/sh", "-c", "trap '' HUP; echo ready; sleep 100; echo survived"]
    session = PtySession(argv, cwd=tmp_path).start()
    wait_until(session, shows("ready"))
    pid = session.pid
    assert pid is not None
    started = time.monotonic()
    status = session.close(timeout=0.5)
    elapsed = time.monotonic() - started
    assert status == -signal.SIGKILL
    assert 0.4 < elapsed < 3
    assert _live_group_members(pid) == []  # sleep died with its shell


def _live_group_members(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies (a zombie may wait to be reaped)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it just ended
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_a_flood_is_shown_at_a_bounded_frame_rate_and_the_last_frame_is_complete(
    tmp_path: Path,
) -> None:
    frames: list[float] = []
    last: list[Snapshot] = []
    session: PtySession

    def on_update() -> None:
        frames.append(time.monotonic())
        last[:] = [session.snapshot()]

    argv = ["/bin/sh", "-c", "yes 2>/dev/null | head -c 3000000; echo END"]
    session = PtySession(argv, cwd=tmp_path, on_update=on_update, max_fps=30)
    with session:
        started = time.monotonic()
        assert session.wait(30) == 0
        elapsed = time.monotonic() - started
        final = session.snapshot()
    assert session.bytes_read == 3 * 1_500_000 + len(b"END\r\n")  # the pty adds CRs
    assert final.text()[-3:] == ["y", "END", ""]
    # At most one frame per 1/30 s, plus the first and the final one.
    assert 3 <= len(frames) <= 30 * elapsed + 2, (len(frames), elapsed)
    # Frames are spaced by the rate limit, except the final one, sent as soon as output ends.
    # (measured after the limiter's own clock: a thread switch in between shortens one gap
    # a little, so the bound is loose; the median shows the rate itself)
    gaps = [b - a for a, b in itertools.pairwise(frames[:-1])]
    assert min(gaps) > 1 / 30 * 0.5
    assert statistics.median(gaps) > 1 / 30 * 0.9
    # The last call saw the finished screen: no frame is dropped at the end.
    assert last[0].text() == final.text()
    assert last[0].scrollback_len == final.scrollback_len == 10_000


def test_paste_is_bracketed_when_the_program_asks(tmp_path: Path) -> None:
    argv = ["/bin/sh", "-c", "printf '\\033[?2004h'; exec cat -v"]
    with PtySession(argv, cwd=tmp_path) as session:
        wait_until(session, lambda s: s.modes.bracketed_paste)
        session.paste("hello\nworld\x1b[31m")
        session.write("\r")
        # cat -v shows ESC as ^[; the escape inside the pasted text was removed.
        snapshot = wait_until(session, shows("world[31m^[[201~"))
        text = "\n".join(snapshot.text())
        assert "^[[200~hello" in text
        assert "^[[31m" not in text


def test_paste_is_plain_without_bracketed_paste_mode(tmp_path: Path) -> None:
    with PtySession(["/bin/sh", "-c", "exec cat -v"], cwd=tmp_path) as session:
        session.paste("one\ntwo\n")
        snapshot = wait_until(session, lambda s: s.text().count("two") == 2)
        assert "[200~" not in "\n".join(snapshot.text())


def test_utf8_split_between_writes_is_shown_whole(tmp_path: Path) -> None:
    # The euro sign's three bytes arrive in two reads.
    argv = ["/bin/sh", "-c", "printf '\\342\\202'; sleep 0.3; printf '\\254|\\n'"]
    with PtySession(argv, cwd=tmp_path) as session:
        session.wait(10)
        assert session.text()[0] == "€|"


def test_transcript_and_scrollback(tmp_path: Path) -> None:
    argv = ["/bin/sh", "-c", "i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done"]
    with PtySession(argv, cwd=tmp_path, rows=10) as session:
        session.wait(10)
        assert session.transcript() == "".join(f"line {i}\n" for i in range(1, 101))
        snapshot = session.snapshot()
        assert snapshot.scrollback_len == 91
        oldest = session.scrollback_lines(0, 2)
        assert ["".join(s.text for s in row).rstrip() for row in oldest] == ["line 1", "line 2"]


def test_less_shows_its_first_page_and_quits_on_q(tmp_path: Path) -> None:
    if shutil.which("less") is None:
        pytest.skip("less is not installed")
    page = tmp_path / "numbers.txt"
    page.write_text("".join(f"line {i:03d}\n" for i in range(1, 201)))
    env = {**_env(tmp_path), "LESS": "", "LESSHISTFILE": "-"}
    with PtySession(["less", page.name], cwd=tmp_path, env=env, cols=60, rows=12) as session:
        snapshot = wait_until(session, lambda s: s.text()[-1].startswith("numbers.txt"))
        assert snapshot.text()[:11] == [f"line {i:03d}" for i in range(1, 12)]
        assert snapshot.modes.alt_screen
        session.write(" ")  # next page
        wait_until(session, lambda s: s.text()[0] == "line 012")
        session.write("q")
        assert session.wait(10) == 0
        assert not session.snapshot().modes.alt_screen


def test_vim_edits_and_quits(tmp_path: Path) -> None:
    if shutil.which("vim") is None:
        pytest.skip("vim is not installed")
    target = tmp_path / "note.txt"
    argv = ["vim", "-u", "NONE", "-N", "-n", "-i", "NONE", str(target)]
    with PtySession(argv, cwd=tmp_path, env=_env(tmp_path), cols=60, rows=12) as session:
        wait_until(session, lambda s: s.modes.alt_screen and s.text()[1] == "~")
        session.write("ihello from vim\x1b")
        wait_until(session, lambda s: s.text()[0] == "hello from vim")
        session.write(":wq\r")
        assert session.wait(10) == 0
    assert target.read_text() == "hello from vim\n"


def test_misuse_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TerminalError, match="not found"):
        PtySession(["/no/such/program"], cwd=tmp_path).start()
    session = PtySession(["/bin/sh", "-c", "exit 0"], cwd=tmp_path)
    with pytest.raises(TerminalError, match="not running"):
        session.write("x")
    session.start()
    with pytest.raises(TerminalError, match="only once"):
        session.start()
    session.wait(10)
    with pytest.raises(TerminalError, match="ended"):
        session.write("x")
    session.close()
    with pytest.raises(TerminalError, match="not running"):
        session.write("x")


def test_writes_from_many_threads_all_arrive(tmp_path: Path) -> None:
    with PtySession(["/bin/sh", "-c", "exec cat"], cwd=tmp_path) as session:

        def send(tag: str) -> None:
            for i in range(20):
                session.write(f"{tag}{i:02d}\r")

        threads = [threading.Thread(target=send, args=(tag,)) for tag in "abc"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        expected = {f"{tag}{i:02d}" for tag in "abc" for i in range(20)}
        deadline = time.monotonic() + 15
        while not expected <= set(session.transcript().splitlines()):
            assert time.monotonic() < deadline, session.transcript()
            time.sleep(0.02)
