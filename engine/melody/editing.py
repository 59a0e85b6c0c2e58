"""Edit a melody file: add, remove, connect and disconnect steps, set their inputs, save.

:class:`MelodyDocument` keeps the file's own document so that an edit changes only what it must.
TOML is edited with tomlkit: comments, key order and formatting of everything an edit does not
touch survive, and a document loaded and saved without edits is the same bytes. JSON has no
comments; an edited JSON file is written again with its own indentation (key order kept). YAML
is rewritten by PyYAML, which loses comments, anchors and quoting: such a document is *lossy*
and :meth:`MelodyDocument.save` refuses to write it unless the caller accepts the loss (the UI
asks the user first).

Every operation works on a copy, renders it, parses the result with the real loader and checks
it with the real validator; an edit that would make the file invalid (or add a problem the file
did not have) raises :class:`MelodyEditError` and leaves the document as it was. This module
must not import Textual and must not write anywhere except through :meth:`MelodyDocument.save`.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.files.atomic import write_atomic
from engine.melody import refs
from engine.melody.dag import step_dependencies
from engine.melody.errors import MelodyError
from engine.melody.expr import compile_when
from engine.melody.loader import parse_melody_text
from engine.melody.model import STEP_ID_RE
from engine.melody.validate import validate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

    from tomlkit.container import Container
    from tomlkit.items import AoT, Table

    from engine.extensions.manifest import StepTypeSpec
    from engine.melody.model import Melody, StepSpec

__all__ = [
    "EditCycleError",
    "MelodyDocument",
    "MelodyEditError",
    "StaleFileError",
    "StepReference",
    "suggest_step_id",
]

#: A new ``with`` is written inline (``with = { ... }``) when the line stays this short.
INLINE_WIDTH = 88
#: Last parts of step type names too generic to name a step (``shell.run`` suggests ``shell``).
_GENERIC = frozenset({"run", "call", "check", "chat", "exec"})
_YAML_LOSS = "YAML is rewritten when saved: comments, anchors, quoting and blank lines are not kept"


class MelodyEditError(MelodyError):
    """An edit or a save was refused; the document (and the file) are unchanged.

    Attributes:
        problems: the validation problems the edit would have caused, when that is the reason.
    """

    code = "melody.edit_refused"

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        location: str | None = None,
        problems: Iterable[MelodyError] = (),
    ) -> None:
        self.problems = list(problems)
        super().__init__(reason, source=source, location=location)


class EditCycleError(MelodyEditError):
    """Connecting two steps would close a dependency cycle.

    Attributes:
        path: the cycle, each step depending on the next, first id repeated at the end.
    """

    def __init__(self, reason: str, path: list[str], *, source: str | None = None) -> None:
        self.path = path
        super().__init__(reason, source=source)


class StaleFileError(MelodyEditError):
    """The file changed (or vanished) on disk since it was loaded; ``save(force=True)``
    overwrites it anyway."""


@dataclass(frozen=True, slots=True)
class StepReference:
    """A place where a step reads another step's result.

    Attributes:
        step: id of the step holding the reference.
        where: ``with.prompt`` (a path in its inputs) or ``when``.
        text: the reference (``${steps.test.outputs.report}``) or the whole condition.
    """

    step: str
    where: str
    text: str

    def __str__(self) -> str:
        return f"{self.step}.{self.where} ({self.text})"


class MelodyDocument:
    """A melody file held for editing.

    Args:
        text: the file's contents.
        fmt: ``toml``, ``json``, ``yaml`` or ``yml`` (a leading dot is fine).
        path: the file :meth:`save` writes; None for a document that cannot be saved.
        step_types: step type declarations to validate against; without them only the schema,
            ids, needs, references and cycles are checked.
        source: how errors name the file (default: ``path``).

    Raises:
        MelodyError: the text is not a valid melody (it cannot be edited safely).
    """

    def __init__(
        self,
        text: str,
        *,
        fmt: str,
        path: Path | None = None,
        step_types: Mapping[str, StepTypeSpec] | None = None,
        source: str | None = None,
    ) -> None:
        import tomlkit

        self.format = fmt.lower().lstrip(".")
        self.path = path
        self.source = source if source is not None else str(path or f"melody.{self.format}")
        self.step_types = step_types
        self._text = text
        self._disk: bytes | None = text.encode("utf-8")
        self._modified = False
        self._melody = parse_melody_text(text, fmt=self.format, source=self.source)
        self._data: Any = tomlkit.parse(text) if self.format == "toml" else self._plain(text)
        self._indent = _json_indent(text)
        # Problems the file already had (a disabled extension's step type, say) do not block
        # edits; an edit may only not add new ones.
        self._known = {_problem_key(p) for p in self._problems(self._melody)}

    @classmethod
    def load(
        cls, path: Path, *, step_types: Mapping[str, StepTypeSpec] | None = None
    ) -> MelodyDocument:
        """Read a melody file for editing (its format from its suffix).

        Raises:
            MelodyError: the file cannot be read or is not a valid melody.
        """
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise MelodyError(f"cannot read: {e.strerror or e}", source=str(path)) from e
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MelodyError(f"not UTF-8 text ({e.reason})", source=str(path)) from e
        doc = cls(text, fmt=path.suffix, path=path, step_types=step_types)
        doc._disk = raw
        return doc

    # -- state -----------------------------------------------------------------------------

    @property
    def melody(self) -> Melody:
        """The melody as it stands after the edits so far."""
        return self._melody

    @property
    def modified(self) -> bool:
        """Whether an edit was made since loading or the last save."""
        return self._modified

    @property
    def lossy(self) -> bool:
        """Whether saving loses more than the edited parts (YAML: comments and formatting)."""
        return self.format in ("yaml", "yml")

    @property
    def loss_note(self) -> str:
        """What saving loses, for the UI to show; empty when nothing is lost."""
        return _YAML_LOSS if self.lossy else ""

    def text(self) -> str:
        """The document as it would be saved (the original text when nothing was edited)."""
        return self._text

    def suggest_id(self, base: str) -> str:
        """A step id not used yet; see :func:`suggest_step_id`."""
        return suggest_step_id(base, self._melody.ids)

    def references_to(self, step_id: str) -> list[StepReference]:
        """Where other steps read ``step_id``'s result in ``with`` or ``when`` (not ``needs``)."""
        found: list[StepReference] = []
        for step in self._melody.steps:
            if step.id != step_id:
                found.extend(r for r in _reads(step) if r.text and _names(r, step_id))
        return found

    # -- operations ------------------------------------------------------------------------

    def add_step(
        self,
        id: str,
        uses: str,
        *,
        with_: Mapping[str, Any] | None = None,
        needs: Iterable[str] = (),
        after: str | None = None,
    ) -> None:
        """Add a step after ``after`` (default: at the end).

        Raises:
            MelodyEditError: the id is malformed or taken (the message suggests a free one),
                ``after`` or a need names no step, or the melody would be invalid.
        """
        if not re.match(STEP_ID_RE, id):
            raise self._refuse(
                f"{id!r} is not a step id: it starts with a letter or '_' and holds only"
                " letters, digits, '_' and '-'"
            )
        if id in self._melody.ids:
            raise self._refuse(f"step id {id!r} is already used (try {self.suggest_id(id)!r})")
        position = len(self._melody.steps)
        if after is not None:
            position = self._index(after) + 1
        needs = list(dict.fromkeys(needs))
        for need in needs:
            self._index(need)
        values = _drop_none(with_ or {})
        self._edit(f"add step {id!r}", lambda d: self._insert(d, position, id, uses, needs, values))

    def remove_step(self, step_id: str) -> list[str]:
        """Remove a step, and remove it from the other steps' ``needs``.

        Returns:
            The ids of the steps whose ``needs`` lost it.

        Raises:
            MelodyEditError: no such step, other steps read its results in ``with`` or ``when``
                (the message names each reference: edit those first), or it is the last step.
        """
        from tomlkit.items import AoT

        index = self._index(step_id)
        if len(self._melody.steps) == 1:
            raise self._refuse(f"cannot remove step {step_id!r}: a melody needs at least one step")
        using = self.references_to(step_id)
        if using:
            listing = "; ".join(str(r) for r in using)
            raise self._refuse(
                f"cannot remove step {step_id!r}: other steps read its results ({listing});"
                " change those values first"
            )
        needing = [s.id for s in self._melody.steps if step_id in s.needs]

        def op(data: Any) -> None:
            steps = data["steps"]
            for other in steps:
                if other.get("id") in needing:
                    self._set_needs(other, [n for n in _needs(other) if n != step_id])
            if isinstance(steps, AoT):
                _detach_toml_step(data, steps, index)
            del steps[index]

        self._edit(f"remove step {step_id!r}", op)
        return needing

    def connect(self, upstream: str, downstream: str) -> None:
        """Make ``downstream`` need ``upstream``.

        Raises:
            EditCycleError: ``upstream`` already depends on ``downstream``; the message and
                ``path`` give the cycle the edge would close.
            MelodyEditError: a step is unknown, the two are one step, or ``downstream``
                already depends on ``upstream``.
        """
        self._index(upstream)
        index = self._index(downstream)
        if upstream == downstream:
            raise self._refuse(f"step {upstream!r} cannot need itself")
        step = self._melody.step(downstream)
        if upstream in step.needs:
            raise self._refuse(f"{downstream!r} already needs {upstream!r}")
        if upstream in step_dependencies(step):
            where = ", ".join(str(r) for r in _reads(step) if _names(r, upstream))
            raise self._refuse(f"{downstream!r} already depends on {upstream!r} through {where}")
        chain = self._dependency_path(upstream, downstream)
        if chain is not None:
            path = [downstream, *chain]
            raise EditCycleError(
                f"connecting {upstream!r} → {downstream!r} would close a cycle:"
                f" {' → '.join(path)} (each step depends on the next)",
                path,
                source=self.source,
            )
        new = [*step.needs, upstream]
        self._edit(
            f"connect {upstream!r} → {downstream!r}",
            lambda d: self._set_needs(d["steps"][index], new),
        )

    def disconnect(self, upstream: str, downstream: str) -> None:
        """Remove ``upstream`` from ``downstream``'s ``needs``.

        Raises:
            MelodyEditError: a step is unknown, or ``downstream`` does not need ``upstream``
                (when it reads its results, the message names the references to edit).
        """
        self._index(upstream)
        index = self._index(downstream)
        step = self._melody.step(downstream)
        if upstream not in step.needs:
            reads = [str(r) for r in _reads(step) if _names(r, upstream)]
            if reads:
                raise self._refuse(
                    f"{downstream!r} depends on {upstream!r} through {', '.join(reads)}, not"
                    " through needs; change those values to remove the dependency"
                )
            raise self._refuse(f"{downstream!r} does not need {upstream!r}")
        new = [n for n in step.needs if n != upstream]
        self._edit(
            f"disconnect {upstream!r} → {downstream!r}",
            lambda d: self._set_needs(d["steps"][index], new),
        )

    def set_with(self, step_id: str, values: Mapping[str, Any]) -> None:
        """Replace a step's inputs with ``values`` (keys set to None are left out; no values
        removes ``with``). Values that do not change keep their formatting and comments.

        Raises:
            MelodyEditError: no such step, or the values make the melody invalid (an unknown
                input, a wrong type, a missing required input…).
        """
        index = self._index(step_id)
        clean = _drop_none(values)
        self._edit(
            f"set the inputs of {step_id!r}",
            lambda d: self._replace_with(d["steps"][index], clean),
        )

    # -- saving ----------------------------------------------------------------------------

    def changed_on_disk(self) -> bool:
        """Whether the file's bytes differ from those loaded or last saved (or it is gone)."""
        if self.path is None:
            return False
        try:
            return self.path.read_bytes() != self._disk
        except FileNotFoundError:
            return self._disk is not None

    def save(self, *, force: bool = False, accept_loss: bool = False) -> None:
        """Write the document to its file atomically (the old file stays whole on failure).

        Args:
            force: overwrite the file even if it changed on disk since it was loaded.
            accept_loss: allow writing a lossy (YAML) document, see :attr:`loss_note`.

        Raises:
            StaleFileError: the file changed or vanished since it was loaded.
            MelodyEditError: no path, a lossy format without ``accept_loss``, or the write
                failed (the reason says why).
        """
        if self.path is None:
            raise self._refuse("this melody has no file to save to")
        if self.lossy and self._modified and not accept_loss:
            raise self._refuse(f"{self.loss_note}; save with accept_loss=True to write it anyway")
        if not force and self.changed_on_disk():
            gone = not self.path.exists()
            what = "was deleted" if gone else "changed on disk"
            raise StaleFileError(
                f"the file {what} since it was loaded; reload it, or save with force=True to"
                " overwrite it",
                source=self.source,
            )
        data = self._text.encode("utf-8")
        try:
            write_atomic(self.path, data, make_dirs=False)
        except OSError as e:
            raise self._refuse(f"cannot save: {e.strerror or e}") from e
        self._disk = data
        self._modified = False

    # -- internals -------------------------------------------------------------------------

    def _plain(self, text: str) -> Any:
        if self.format == "json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)

    def _refuse(self, reason: str, problems: Iterable[MelodyError] = ()) -> MelodyEditError:
        return MelodyEditError(reason, source=self.source, problems=problems)

    def _index(self, step_id: str) -> int:
        ids = self._melody.ids
        if step_id not in ids:
            raise self._refuse(f"no step {step_id!r} (steps: {', '.join(ids)})")
        return ids.index(step_id)

    def _problems(self, melody: Melody) -> list[MelodyError]:
        types = self.step_types
        if types is None:
            # Without declarations every step type is unknown: check the rest only.
            return [
                p
                for p in validate(melody, source=self.source, step_types={})
                if not (p.location or "").endswith(".uses")
            ]
        return validate(melody, source=self.source, step_types=types)

    def _edit(self, what: str, op: Callable[[Any], None]) -> None:
        """Apply ``op`` to a copy; keep the result only if it renders to a valid melody."""
        import tomlkit

        if self.format == "toml":
            work: Any = tomlkit.parse(self._text)
        else:
            work = copy.deepcopy(self._data)
        op(work)
        text = self._render(work)
        try:
            melody = parse_melody_text(text, fmt=self.format, source=self.source)
        except MelodyError as e:
            problems = getattr(e, "errors", [e])
            raise self._refuse(f"cannot {what}: {_describe(problems)}", problems) from e
        new = [p for p in self._problems(melody) if _problem_key(p) not in self._known]
        if new:
            detail = _describe(new)
            raise self._refuse(f"cannot {what}: the melody would not be valid: {detail}", new)
        self._data, self._text, self._melody, self._modified = work, text, melody, True

    def _render(self, data: Any) -> str:
        if self.format == "toml":
            return str(data.as_string())
        if self.format == "json":
            return json.dumps(data, indent=self._indent, ensure_ascii=False) + "\n"
        import yaml

        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    def _dependency_path(self, start: str, goal: str) -> list[str] | None:
        """A chain ``start → … → goal`` along dependencies, or None."""
        deps = {s.id: step_dependencies(s) for s in self._melody.steps}
        parent: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                chain: list[str] = []
                at: str | None = node
                while at is not None:
                    chain.append(at)
                    at = parent[at]
                return chain[::-1]
            for dep in deps.get(node, ()):
                if dep not in parent:
                    parent[dep] = node
                    queue.append(dep)
        return None

    def _insert(
        self,
        data: Any,
        position: int,
        id: str,
        uses: str,
        needs: list[str],
        values: dict[str, Any],
    ) -> None:
        import tomlkit
        from tomlkit.items import AoT, Array

        steps = data["steps"]
        if isinstance(steps, AoT):
            table = tomlkit.table()
            table.add("id", id)
            table.add("uses", uses)
            if needs:
                table.add("needs", _inline(needs))
            if values:
                table.add("with", _with_item(values, standalone=True))
            _attach_toml_step(steps, position, table)
            return
        step: dict[str, Any] = {"id": id, "uses": uses}
        if needs:
            step["needs"] = needs
        if values:
            step["with"] = values
        steps.insert(position, _inline(step) if isinstance(steps, Array) else step)

    def _set_needs(self, step: Any, needs: list[str]) -> None:
        from tomlkit.items import Array, InlineTable, Table

        if not needs:
            if "needs" in step:
                del step["needs"]
            return
        current = step.get("needs")
        if isinstance(current, Array):
            # Edit the array in place: its comments and layout stay.
            for name in [n for n in current if n not in needs]:
                current.remove(name)
            for name in needs:
                if name not in current:
                    current.append(name)
            return
        if isinstance(step, Table | InlineTable):
            _put(step, "needs", _inline(needs), after=("uses", "id"))
        else:
            _put(step, "needs", needs, after=("uses", "id"))

    def _replace_with(self, step: Any, values: dict[str, Any]) -> None:
        from tomlkit.items import InlineTable, Table

        if not values:
            if "with" in step:
                del step["with"]
            return
        current = step.get("with")
        if isinstance(current, Table | InlineTable):
            for key in [k for k in current if k not in values]:
                del current[key]
            for key, value in values.items():
                if key in current and _unwrap(current[key]) == value:
                    continue  # untouched: keep its formatting and comment
                item = _inline(value)
                if key in current or isinstance(current, InlineTable):
                    current[key] = item
                else:
                    _put(current, key, item, after=())
            return
        if isinstance(step, Table):
            _put(step, "with", _with_item(values, standalone=True), after=("needs", "uses", "id"))
        elif isinstance(step, InlineTable):
            _put(step, "with", _inline(values), after=("needs", "uses", "id"))
        else:
            _put(step, "with", dict(values), after=("needs", "uses", "id"))


def suggest_step_id(base: str, taken: Iterable[str]) -> str:
    """A step id not in ``taken``, from a wanted id or a step type: ``pytest.run`` →
    ``pytest``, ``git.diff`` → ``diff``, then ``pytest-2``, ``pytest-3`` …"""
    if "." in base:
        parts = base.split(".")
        base = parts[0] if parts[-1] in _GENERIC else parts[-1]
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-") or "step"
    if not re.match(r"[A-Za-z_]", base):
        base = f"step-{base}"
    used = set(taken)
    if base not in used:
        return base
    stem = re.sub(r"-\d+$", "", base) or base
    n = 2
    while f"{stem}-{n}" in used:
        n += 1
    return f"{stem}-{n}"


# -- helpers -------------------------------------------------------------------------------


def _describe(problems: Iterable[MelodyError]) -> str:
    return "; ".join(f"{p.location}: {p.reason}" if p.location else p.reason for p in problems)


def _problem_key(problem: MelodyError) -> tuple[str, str]:
    """A problem without the step's index, which shifts when steps are added or removed."""
    location = re.sub(r"^steps\[\d+\] ", "", problem.location or "")
    return location, problem.reason


def _reads(step: StepSpec) -> list[StepReference]:
    """The step references in a step's ``with`` and ``when``."""
    found = [
        StepReference(step.id, refs.format_path(path), ref.text)
        for path, ref in refs.scan(step.with_, ("with",))[0]
        if ref.kind == "steps"
    ]
    if step.when is not None:
        try:
            condition = compile_when(step.when)
        except ValueError:
            return found
        found.extend(
            StepReference(step.id, "when", step.when) for _ in sorted(condition.step_refs)[:1]
        )
    return found


def _names(reference: StepReference, step_id: str) -> bool:
    """Whether ``reference`` reads ``step_id``."""
    if reference.where == "when":
        return step_id in compile_when(reference.text).step_refs
    ref = refs.whole_ref(reference.text)
    return ref is not None and ref.name == step_id


def _needs(step: Any) -> list[str]:
    return [str(n) for n in step.get("needs", [])]


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _json_indent(text: str) -> int:
    match = re.search(r"^( +)\S", text, re.MULTILINE)
    return len(match.group(1)) if match else 2


def _unwrap(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _literal(value: Any) -> str:
    """``value`` written as a TOML value, tables inline, in the spacing the docs use."""
    import tomlkit

    if value is None:
        raise MelodyEditError("TOML has no null value; leave the key out instead")
    if isinstance(value, dict):
        if not value:
            return "{}"
        pairs = ", ".join(f"{tomlkit.key(k).as_string()} = {_literal(v)}" for k, v in value.items())
        return f"{{ {pairs} }}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return str(tomlkit.string(value).as_string())
    return str(tomlkit.item(value).as_string())


def _inline(value: Any) -> Any:
    """A TOML item for ``value`` where tables must be inline (inside ``with = {...}``)."""
    import tomlkit

    return tomlkit.parse(f"v = {_literal(value)}\n")["v"]


def _with_item(values: dict[str, Any], *, standalone: bool) -> Any:
    """``with = { ... }`` when it fits on a line, else a ``[steps.with]`` table."""
    import tomlkit

    inline = _inline(values)
    if not standalone or len(f"with = {inline.as_string()}") <= INLINE_WIDTH:
        return inline
    table = tomlkit.table()
    for key, value in values.items():
        table.add(key, _inline(value))
    return table


def _put(mapping: Any, key: str, value: Any, *, after: tuple[str, ...]) -> None:
    """Add ``key`` after the first of ``after`` that ``mapping`` has (else after its last
    plain key), never behind the comments that end a TOML table (they belong to what
    follows)."""
    from tomlkit.items import AoT, InlineTable, Table

    if not isinstance(mapping, Table):
        if isinstance(mapping, InlineTable) or key in mapping:
            mapping[key] = value
            return
        items = list(mapping.items())
        anchor = next((a for a in after if a in mapping), None)
        at = [k for k, _ in items].index(anchor) + 1 if anchor else len(items)
        items.insert(at, (key, value))
        mapping.clear()
        mapping.update(items)
        return
    body = mapping.value.body
    anchor = next((a for a in after if a in mapping), None)
    if anchor is None:
        plain = [k.key for k, v in body if k is not None and not isinstance(v, Table | AoT)]
        anchor = plain[-1] if plain else None
    if anchor is not None:
        mapping.value._insert_after(anchor, key, value)
    else:
        mapping.value._insert_at(0, key, value)


def _tail(container: Container) -> Container:
    """The container whose body ends ``container`` in the file: its last sub-table's, if the
    table ends with one (``[steps.with]``)."""
    from tomlkit.items import Table

    while container.body and isinstance(container.body[-1][1], Table):
        container = container.body[-1][1].value
    return container


def _trailing_comments(container: Container) -> list[Any]:
    """Pop the comment lines that end ``container``'s body: in tomlkit they sit inside the
    table before a ``[[steps]]`` header although they describe the step below it."""
    from tomlkit.items import Comment

    body = _tail(container).body
    found: list[Any] = []
    while body and body[-1][0] is None and isinstance(body[-1][1], Comment):
        found.append(body.pop()[1])
    return found[::-1]


def _ends_blank(container: Container) -> bool:
    from tomlkit.items import Whitespace

    body = _tail(container).body
    return bool(body) and body[-1][0] is None and isinstance(body[-1][1], Whitespace)


def _attach_toml_step(steps: AoT, position: int, table: Table) -> None:
    """Insert a ``[[steps]]`` table so the comments above the next header stay with it."""
    import tomlkit

    if position > 0:
        before = steps[position - 1].value
        moved = _trailing_comments(before)
        if not _ends_blank(before):
            _tail(before).append(None, tomlkit.ws("\n"))
        if moved or position < len(steps):
            table.value.append(None, tomlkit.ws("\n"))
        for comment in moved:
            table.value.append(None, comment)
    steps.insert(position, table)


def _table_before(doc: Container, steps: AoT) -> Container | None:
    """The body of the table written just before the first ``[[steps]]`` header, if any."""
    from tomlkit.items import Table

    previous: Any = None
    for _key, item in doc.body:
        if item is steps:
            return previous.value if isinstance(previous, Table) else None
        if _key is not None:
            previous = item
    return None


def _detach_toml_step(doc: Container, steps: AoT, index: int) -> None:
    """Before ``[[steps]]`` number ``index`` is deleted: drop the comments above its header
    and hand the comments above the next header to the table before it."""
    from tomlkit.items import Comment, Whitespace

    before = steps[index - 1].value if index > 0 else _table_before(doc, steps)
    if before is None:
        return  # a top-level key or nothing precedes the steps: leave the comments be
    _trailing_comments(before)
    body = _tail(steps[index].value).body
    tail: list[Any] = []
    while body and body[-1][0] is None and isinstance(body[-1][1], Comment | Whitespace):
        tail.append(body.pop()[1])
    tail.reverse()
    if tail and isinstance(tail[0], Whitespace) and _ends_blank(before):
        tail = tail[1:]
    for item in tail:
        _tail(before).append(None, item)
