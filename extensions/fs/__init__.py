"""Built-in file operator: ``fs.read``, ``fs.write`` and ``fs.glob`` on workspace files.

Every access goes through the context's permission-checked file API; this module adds the step
semantics (size limits, encodings, ``if_absent``) and never touches a path the guard has not
resolved first.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
from typing import TYPE_CHECKING, Any

from symphony_sdk import Operator, step

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from symphony_sdk import StepContext

BASE64 = "base64"


class FileStepError(Exception):
    """A file step cannot do what it was asked (missing file, too large, wrong encoding)."""


class FilesOperator(Operator):
    """Read, write and find files in the workspace."""

    @step("fs.read")
    def read(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        path: str = inputs["path"]
        encoding = _encoding(inputs["encoding"])
        limit: int = inputs["max_bytes"]
        full = ctx.fs.path(path)
        if not full.is_file():
            what = "a folder" if full.is_dir() else "missing"
            raise FileStepError(f"cannot read {path!r}: it is {what}")
        size = full.stat().st_size
        if size > limit:
            raise FileStepError(f"{path!r} is {size} bytes, more than max_bytes ({limit})")
        data = ctx.fs.read_bytes(path)
        if len(data) > limit:  # it grew since the check
            raise FileStepError(f"{path!r} is {len(data)} bytes, more than max_bytes ({limit})")
        if encoding == BASE64:
            content = base64.b64encode(data).decode("ascii")
        else:
            try:
                content = data.decode(encoding)
            except UnicodeDecodeError as e:
                raise FileStepError(
                    f"{path!r} is not {encoding} text (byte {e.start}); read it with"
                    " encoding = 'base64'"
                ) from e
        return {"content": content, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    @step("fs.write")
    def write(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        path: str = inputs["path"]
        encoding = _encoding(inputs["encoding"])
        content: str = inputs["content"]
        if encoding == BASE64:
            try:
                data = base64.b64decode(content, validate=True)
            except binascii.Error as e:
                raise FileStepError(f"content is not valid base64: {e}") from e
        else:
            try:
                data = content.encode(encoding)
            except UnicodeEncodeError as e:
                raise FileStepError(
                    f"content cannot be written as {encoding}: {e.reason} at character {e.start}"
                ) from e
        full = ctx.fs.path(path, write=True)
        existed = full.exists()
        if existed and inputs["if_absent"]:
            raise FileStepError(f"{path!r} already exists (if_absent is set)")
        if full.is_dir():
            raise FileStepError(f"cannot write {path!r}: it is a folder")
        if not inputs["make_dirs"] and not full.parent.is_dir():
            raise FileStepError(
                f"cannot write {path!r}: its folder does not exist (make_dirs is false)"
            )
        ctx.fs.write_bytes(path, data, make_dirs=inputs["make_dirs"])
        return {
            "path": _shown(ctx, full),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "created": not existed,
        }

    @step("fs.glob")
    def glob(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        pattern: str = inputs["pattern"]
        limit: int = inputs["limit"]
        if not pattern.strip():
            raise FileStepError("pattern is empty")
        if limit < 1:
            raise FileStepError(f"limit must be at least 1, got {limit}")
        found = ctx.fs.glob(pattern, include_ignored=inputs["include_ignored"])
        paths = found[:limit]
        return {"paths": paths, "count": len(paths), "truncated": len(found) > limit}


def _encoding(name: str) -> str:
    """``base64`` or the canonical name of a text codec."""
    if name.lower() == BASE64:
        return BASE64
    try:
        "".encode(name)  # raises for unknown codecs and for bytes-to-bytes ones (hex, zlib)
    except LookupError:
        raise FileStepError(
            f"unknown text encoding {name!r} (use e.g. 'utf-8', or 'base64' for bytes)"
        ) from None
    return codecs.lookup(name).name


def _shown(ctx: StepContext, full: Path) -> str:
    """``full`` relative to the workspace (absolute when it is the scratch folder)."""
    if full.is_relative_to(ctx.workspace):
        return full.relative_to(ctx.workspace).as_posix()
    return str(full)
