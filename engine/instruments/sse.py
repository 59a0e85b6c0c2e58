"""Server-sent events as chat-completion streams use them: ``data:`` lines, events separated
by a blank line, ``:`` comments ignored, ``data: [DONE]`` ends the stream."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["DONE", "events"]

#: The data of the event that ends an OpenAI-style stream.
DONE = "[DONE]"


def events(lines: Iterable[str]) -> Iterator[str]:
    """The data of each event in ``lines`` (several ``data:`` lines of one event are joined
    with newlines). Stops after ``[DONE]``."""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                text = "\n".join(data)
                data = []
                yield text
                if text == DONE:
                    return
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
