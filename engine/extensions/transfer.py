"""Read and write the installer's files at a local path or an http(s) URL.

A *location* is a path (``~`` expanded), a ``file://`` URL or an ``http://``/``https://`` URL.
Reading is bounded (size cap, timeout for connecting and for each read) and every failure is a
:class:`TransferError` naming the location and the reason (HTTP status, timeout, refused
connection, missing file). Writing an http(s) location is a ``PUT`` of the whole body, as
``carets publish`` does. Uses only the standard library (``urllib``); this module knows
nothing about indexes or archives.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from engine.types.errors import TransferError

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "is_url",
    "join",
    "local_path",
    "put_bytes",
    "read_bytes",
]

DEFAULT_TIMEOUT_S = 30.0
_CHUNK = 1024 * 1024


def is_url(location: str) -> bool:
    """Whether ``location`` is an http(s) URL (not a path or a ``file://`` URL)."""
    return urllib.parse.urlsplit(location).scheme in ("http", "https")


def local_path(location: str, base: Path | None = None) -> Path:
    """The file a non-http location names: a ``file://`` URL or a path, relative ones
    against ``base`` (default: the current folder)."""
    if location.startswith("file://"):
        return Path(urllib.request.url2pathname(urllib.parse.urlsplit(location).path))
    path = Path(location).expanduser()
    return path if path.is_absolute() or base is None else base / path


def join(base: str, ref: str) -> str:
    """``ref`` resolved against the location ``base`` (a URL, or a file whose folder is the
    base); an absolute URL or path ``ref`` is returned as it is."""
    if urllib.parse.urlsplit(ref).scheme in ("http", "https", "file"):
        return ref
    if is_url(base):
        return urllib.parse.urljoin(base, ref)
    return str(local_path(ref, local_path(base).parent))


def read_bytes(location: str, *, max_bytes: int, timeout: float = DEFAULT_TIMEOUT_S) -> bytes:
    """The content at ``location``, refused beyond ``max_bytes``.

    Raises:
        TransferError: missing, unreadable, an HTTP error, a timeout, or too large.
    """
    if not is_url(location):
        path = local_path(location)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise TransferError(f"{location}: larger than {max_bytes} bytes ({size})")
            return path.read_bytes()
        except FileNotFoundError:
            raise TransferError(f"{location}: no such file", missing=True) from None
        except IsADirectoryError:
            raise TransferError(f"{location}: a folder, not a file") from None
        except OSError as e:
            raise TransferError(f"{location}: cannot read: {e.strerror}") from e
    request = urllib.request.Request(location, headers={"User-Agent": "symphony-installer"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise TransferError(f"{location}: larger than {max_bytes} bytes ({declared})")
            chunks: list[bytes] = []
            total = 0
            while chunk := response.read(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise TransferError(f"{location}: larger than {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as e:
        e.close()  # it holds the response's connection
        raise TransferError(f"{location}: HTTP {e.code} {e.reason}", status=e.code) from None
    except (TimeoutError, urllib.error.URLError, OSError) as e:
        raise TransferError(f"{location}: {_reason(e, timeout)}") from e


def put_bytes(location: str, data: bytes, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Store ``data`` at ``location``: an atomic file write, or an HTTP ``PUT``.

    Raises:
        TransferError: the write or the request failed (HTTP status, timeout…).
    """
    if not is_url(location):
        from engine.files.atomic import write_atomic

        path = local_path(location)
        try:
            write_atomic(path, data)
        except OSError as e:
            raise TransferError(f"{location}: cannot write: {e.strerror or e}") from e
        return
    request = urllib.request.Request(
        location,
        data=data,
        method="PUT",
        headers={"User-Agent": "symphony-installer", "Content-Type": _content_type(location)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as e:
        e.close()
        raise TransferError(f"PUT {location}: HTTP {e.code} {e.reason}", status=e.code) from None
    except (TimeoutError, urllib.error.URLError, OSError) as e:
        raise TransferError(f"PUT {location}: {_reason(e, timeout)}") from e


def _content_type(location: str) -> str:
    if location.endswith(".json"):
        return "application/json"
    if location.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    return "application/octet-stream"


def _reason(e: BaseException, timeout: float) -> str:
    cause = e.reason if isinstance(e, urllib.error.URLError) else e
    if isinstance(cause, TimeoutError) or "timed out" in str(cause):
        return f"no answer within {timeout:g} s"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause)
