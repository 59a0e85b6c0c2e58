"""Read-only preview of a workspace file, opened from the explorer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import TextArea

if TYPE_CHECKING:
    from pathlib import Path

#: Larger files are previewed only up to this many bytes.
PREVIEW_LIMIT = 1_000_000


def read_preview(path: Path) -> str:
    """The text to show for ``path``: its content, or a note for binary and unreadable files."""
    try:
        with path.open("rb") as fh:
            data = fh.read(PREVIEW_LIMIT + 1)
    except OSError as e:
        return f"[cannot read {path.name}: {e.strerror or e}]"
    if b"\0" in data[:8192]:
        return f"[binary file, {path.stat().st_size:,} bytes]"
    text = data[:PREVIEW_LIMIT].decode("utf-8", errors="replace")
    if len(data) > PREVIEW_LIMIT:
        text += f"\n[… preview stops at {PREVIEW_LIMIT:,} bytes]"
    return text


class FilePreview(TextArea):
    """A read-only text view with line numbers."""

    DEFAULT_CSS = """
    FilePreview { border: none; padding: 0; }
    """

    def __init__(self, path: Path, *, id: str | None = None) -> None:
        super().__init__(
            read_preview(path),
            read_only=True,
            show_line_numbers=True,
            soft_wrap=False,
            id=id,
        )
        self.path = path
