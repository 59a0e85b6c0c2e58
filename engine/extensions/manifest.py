"""The extension manifest (``symphony-extension.toml``): its model, loading and JSON Schema.

A manifest is read without importing the extension, so Symphony can list, validate, pin and
review an extension (and know which step types it offers) before running any of its code. The
models are strict like the configuration's: unknown keys, wrong types and malformed ids or
versions are errors naming the file, the key and the reason. ``docs/extension-manifest.schema.json``
is generated from them (``python -m engine.extensions.manifest``) for editors.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.types.errors import ExtensionError, ManifestError, ManifestErrors

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "MANIFEST_NAME",
    "ActivationEvent",
    "CommandContribution",
    "Contributions",
    "ExtensionInfo",
    "FieldSpec",
    "FsPermissions",
    "Manifest",
    "PanelContribution",
    "Permissions",
    "RuntimeSpec",
    "StepTypeSpec",
    "check_symphony_version",
    "load_manifest",
    "manifest_hash",
    "manifest_schema",
    "parse_manifest",
]

MANIFEST_NAME = "symphony-extension.toml"

ID_RE = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
SEMVER_RE = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
ENTRY_RE = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
ACTIVATION_RE = r"^(on_startup|on_step:.+|on_command:.+|on_file_open:.+)$"

ExtensionType = Literal["instrument", "operator", "motif"]
FieldType = Literal["string", "integer", "number", "boolean", "array", "object", "any"]
Isolation = Literal["in-process", "process"]
ActivationEvent = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ExtensionInfo(_Strict):
    """Who the extension is and where its code starts."""

    id: str = Field(
        pattern=ID_RE,
        description="Unique, lowercase dotted id such as `acme.lint`; also the registry key.",
    )
    name: str = Field(min_length=1, description="Human-readable name.")
    version: str = Field(pattern=SEMVER_RE, description="Semantic version `MAJOR.MINOR.PATCH`.")
    type: ExtensionType = Field(description="`instrument` (AI model), `operator` or `motif` (UI).")
    description: str = Field("", description="One or two sentences shown in listings.")
    authors: list[str] = Field(default_factory=list, description="Authors, `Name <email>`.")
    license: str = Field("", description="SPDX license identifier.")
    entry: str = Field(
        pattern=ENTRY_RE,
        description="`module:attribute` of the extension class, importable from the extension's"
        " folder.",
    )
    symphony: str = Field(
        ">=0.1",
        description="Symphony versions the extension works with, as a version specifier"
        " (`>=0.1,<2`).",
    )

    requires: dict[str, str] = Field(
        default_factory=dict,
        description="Other extensions this one needs, by id, each with a version range"
        ' (`{ "acme.base" = ">=1.2,<2" }`; comparators `>=`, `>`, `<=`, `<`, `==`, `!=`,'
        " `^`, `~`, `*`, joined by commas). The installer installs missing ones from the"
        " marketplace index.",
    )

    @field_validator("symphony")
    @classmethod
    def _specifier(cls, value: str) -> str:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError("not a version specifier such as '>=0.1,<2'") from None
        return value

    @field_validator("requires")
    @classmethod
    def _requires(cls, value: dict[str, str]) -> dict[str, str]:
        from engine.extensions.semver import Range, VersionError

        for ext_id, spec in value.items():
            if not re.match(ID_RE, ext_id):
                raise ValueError(
                    f"{ext_id!r} is not an extension id (lowercase dotted words such as"
                    " 'acme.base')"
                )
            try:
                Range.parse(spec)
            except VersionError as e:
                raise ValueError(f"{ext_id!r}: {e}") from None
        return value

    @model_validator(mode="after")
    def _not_itself(self) -> ExtensionInfo:
        if self.id in self.requires:
            raise ValueError(f"requires: an extension cannot require itself ({self.id!r})")
        return self


class RuntimeSpec(_Strict):
    """How the extension is hosted."""

    isolation: Isolation | None = Field(
        None,
        description="`in-process` or `process` (its own process over the IPC bus); unset means"
        " in-process for built-in extensions and process for everything else.",
    )
    activation_timeout_s: float | None = Field(
        None,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds `activate` may take (at most 3600); unset uses"
        " `extensions.activation_timeout_s`.",
    )
    call_timeout_s: float = Field(
        600.0,
        gt=0,
        le=7 * 86400,
        allow_inf_nan=False,
        description="Seconds one step call may take before it is cancelled (at most a week).",
    )
    memory_mb: int | None = Field(
        None,
        ge=16,
        description="Memory limit (address space) of the extension's own process, in MiB;"
        " past it allocations fail with MemoryError.",
    )
    cpu_s: int | None = Field(
        None,
        ge=1,
        description="CPU time limit of the extension's own process, in seconds; past it the"
        " process is killed (and restarted, as after a crash).",
    )


class FsPermissions(_Strict):
    """Workspace paths the extension may read and write."""

    read: list[str] = Field(
        default_factory=list,
        description="Globs, relative to the workspace root, of paths it may read"
        " (`**` everything, `src/**`, `*.toml` at the root, `!secrets/**` to exclude).",
    )
    write: list[str] = Field(
        default_factory=list, description="Globs of paths it may create, change or delete."
    )

    @field_validator("read", "write")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        from engine.files.globs import GlobError, compile_globs

        try:
            compile_globs(value)
        except GlobError as e:
            raise ValueError(str(e)) from None
        return value


class Permissions(_Strict):
    """What the extension may do; every context call is checked against these and audited."""

    fs: FsPermissions = Field(default_factory=FsPermissions, description="File access.")
    process: list[str] = Field(
        default_factory=list,
        description="Programs it may start, by name (`git`) or `*` for any.",
    )
    env: list[str] = Field(
        default_factory=list,
        description="Environment variables it may read and pass to processes (`HOME`,"
        " `PYTEST_*`, `*`).",
    )
    network: list[str] = Field(
        default_factory=list,
        description="Hosts it may connect to (`api.example.com`, `*.example.com`, `*`).",
    )
    models: list[str] = Field(
        default_factory=list, description="Configured AI models it may call (`*` for any)."
    )

    def grants(self) -> dict[str, list[str]]:
        """Every permission by its name (``fs.read``, ``fs.write``, ``process``, ``env``,
        ``network``, ``models``), in that order, empty ones included."""
        return {
            "fs.read": list(self.fs.read),
            "fs.write": list(self.fs.write),
            "process": list(self.process),
            "env": list(self.env),
            "network": list(self.network),
            "models": list(self.models),
        }


class FieldSpec(_Strict):
    """One typed input, output or setting."""

    type: FieldType = Field("any", description="Value type.")
    description: str = Field("", description="What the value means.")
    required: bool = Field(False, description="The value must be given (inputs and settings).")
    default: Any = Field(None, description="Value used when none is given.")
    enum: list[Any] | None = Field(None, description="The only values allowed.")
    items: FieldType | None = Field(None, description="Type of each element of an array.")
    files: Literal["read", "write"] | None = Field(
        None,
        description="The value names workspace files or folders (a string or an array of"
        " strings) the step reads (their content is part of its cache key) or writes (two"
        " steps never write the same path at once).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        from engine.extensions.steps import in_enum, type_matches

        if self.items is not None and self.type != "array":
            raise ValueError("`items` is only allowed on an array")
        if self.required and self.default is not None:
            raise ValueError("a required value cannot have a default")
        if self.files is not None and self.type not in ("string", "array", "any"):
            raise ValueError("`files` is only allowed on a string or an array of strings")
        if self.enum is not None:
            wrong = [v for v in self.enum if not type_matches(self.type, v)]
            if wrong:
                raise ValueError(f"enum value {wrong[0]!r} is not of type {self.type}")
        if self.default is not None:
            if not type_matches(self.type, self.default):
                raise ValueError(f"default {self.default!r} is not of type {self.type}")
            if self.enum is not None and not in_enum(self.enum, self.default):
                raise ValueError(f"default {self.default!r} is not one of the enum values")
            if self.items is not None:
                bad = [v for v in self.default if not type_matches(self.items, v)]
                if bad:
                    raise ValueError(f"default item {bad[0]!r} is not of type {self.items}")
        return self


class StepTypeSpec(_Strict):
    """A melody step type the extension implements."""

    type: str = Field(pattern=ID_RE, description="Name used in melodies' `uses`, e.g. `git.diff`.")
    title: str = Field("", description="Short title for palettes.")
    description: str = Field("", description="What the step does.")
    inputs: dict[str, FieldSpec] = Field(
        default_factory=dict, description="The step's `with` values: its config schema."
    )
    outputs: dict[str, FieldSpec] = Field(
        default_factory=dict, description="Values the step produces."
    )
    reads: list[str] = Field(
        default_factory=list,
        description="Workspace globs the step's result depends on besides its `files` inputs"
        " (`**` for a test run that imports anything); their content is part of the cache key.",
    )
    cacheable: bool = Field(
        True,
        description="Whether an earlier result may be reused when the inputs, the extension's"
        " version and the content of the `files` inputs are unchanged; false for steps with"
        " side effects or that read state the key does not cover (a melody step can override"
        " it with `cache`).",
    )

    def input_schema(self) -> dict[str, Any]:
        """The inputs as a JSON Schema object (for forms and editors)."""
        return fields_schema(self.inputs)


class CommandContribution(_Strict):
    """A command for the palette."""

    id: str = Field(pattern=ID_RE, description="Command id, e.g. `acme.lint.fix`.")
    title: str = Field(min_length=1, description="Title shown in the palette.")
    key: str | None = Field(None, description="Default key binding, e.g. `ctrl+alt+l`.")


class PanelContribution(_Strict):
    """A panel (motif) shown in the workspace."""

    id: str = Field(pattern=ID_RE, description="Panel id.")
    title: str = Field(min_length=1, description="Tab title.")


class Contributions(_Strict):
    """What the extension adds to Symphony."""

    steps: list[StepTypeSpec] = Field(default_factory=list, description="Melody step types.")
    commands: list[CommandContribution] = Field(
        default_factory=list, description="Palette commands."
    )
    panels: list[PanelContribution] = Field(default_factory=list, description="Panels (motifs).")
    settings: dict[str, FieldSpec] = Field(
        default_factory=dict,
        description="The extension's settings, set under `extensions.settings.<id>` (schema).",
    )

    @model_validator(mode="after")
    def _unique(self) -> Contributions:
        for what, ids in (
            ("step type", [s.type for s in self.steps]),
            ("command", [c.id for c in self.commands]),
            ("panel", [p.id for p in self.panels]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{what} {dupes[0]!r} is declared more than once")
        return self


class Manifest(_Strict):
    """A whole ``symphony-extension.toml``."""

    extension: ExtensionInfo = Field(description="Identity and entry point.")
    runtime: RuntimeSpec = Field(default_factory=RuntimeSpec, description="Hosting.")
    permissions: Permissions = Field(default_factory=Permissions, description="Granted access.")
    activation: list[ActivationEvent] = Field(
        default_factory=list,
        description="When to activate: `on_startup`, `on_command:ID`, `on_step:TYPE`,"
        " `on_file_open:GLOB`. Contributed step types and commands activate it anyway.",
    )
    contributes: Contributions = Field(
        default_factory=Contributions, description="Step types, commands, panels, settings."
    )

    @field_validator("activation")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        for event in value:
            if not re.match(ACTIVATION_RE, event):
                raise ValueError(
                    f"unknown activation event {event!r} (expected on_startup, on_command:ID,"
                    " on_step:TYPE or on_file_open:GLOB)"
                )
        return value

    @property
    def id(self) -> str:
        return self.extension.id

    def activates_on_startup(self) -> bool:
        return "on_startup" in self.activation

    def step(self, step_type: str) -> StepTypeSpec | None:
        """The declaration of ``step_type``, if this extension contributes it."""
        return next((s for s in self.contributes.steps if s.type == step_type), None)


_JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def fields_schema(fields: dict[str, FieldSpec]) -> dict[str, Any]:
    """A JSON Schema ``object`` describing ``fields``."""
    props: dict[str, Any] = {}
    for name, spec in fields.items():
        prop: dict[str, Any] = {}
        if spec.type in _JSON_TYPES:
            prop["type"] = _JSON_TYPES[spec.type]
        if spec.items in _JSON_TYPES:
            prop["items"] = {"type": _JSON_TYPES[spec.items]}
        if spec.description:
            prop["description"] = spec.description
        if spec.default is not None:
            prop["default"] = spec.default
        if spec.enum is not None:
            prop["enum"] = spec.enum
        props[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [n for n, s in fields.items() if s.required]
    if required:
        schema["required"] = required
    return schema


def check_symphony_version(wanted: str) -> None:
    """Check that this Symphony is one the specifier ``wanted`` (``>=0.1,<2``) allows.

    Raises:
        ExtensionError: it is not.
    """
    from packaging.specifiers import SpecifierSet

    from engine import __version__

    if not SpecifierSet(wanted).contains(__version__, prereleases=True):
        raise ExtensionError(f"needs Symphony {wanted}; this is {__version__}")


def manifest_hash(data: bytes) -> str:
    """The SHA-256 (hex) of a manifest file's bytes, the value pinned in the registry."""
    return hashlib.sha256(data).hexdigest()


def parse_manifest(data: bytes, source: str) -> Manifest:
    """Parse and validate manifest bytes; ``source`` names the file in errors.

    Raises:
        ManifestError: the bytes are not UTF-8 TOML or do not describe a valid manifest (a
            :class:`ManifestErrors` carries every problem when there are several).
    """
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ManifestError(f"not UTF-8 text ({e.reason} at byte {e.start})", source=source) from e
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"not valid TOML: {e}", source=source) from e
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        errors = [_to_manifest_error(err, source) for err in e.errors()]
        raise (errors[0] if len(errors) == 1 else ManifestErrors(errors)) from None


def load_manifest(path: Path) -> tuple[Manifest, str]:
    """Read and validate a manifest file (or the manifest inside a folder).

    Returns:
        The manifest and the SHA-256 of the file's bytes.

    Raises:
        ManifestError: the file is missing, unreadable or invalid.
    """
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError("no such file", source=str(path)) from None
    except OSError as e:
        raise ManifestError(f"cannot read: {e.strerror}", source=str(path)) from e
    return parse_manifest(data, str(path)), manifest_hash(data)


def _to_manifest_error(err: Any, source: str) -> ManifestError:
    parts = [str(p) for p in err["loc"]]
    kind = err["type"]
    if kind == "extra_forbidden":
        reason = "unknown key"
    elif kind == "missing":
        reason = "required key is missing"
    elif kind == "string_pattern_mismatch":
        reason = _PATTERN_REASONS.get(parts[-1], "malformed value") + f" (got {err['input']!r})"
    else:
        reason = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if not isinstance(value, dict | list):  # a whole table or list only adds noise
            reason = f"{reason} (got {value!r})"
    return ManifestError(reason, source=source, key=".".join(parts) or None)


_PATTERN_REASONS = {
    "id": "must be lowercase dotted words such as 'acme.lint'",
    "type": "must be lowercase dotted words such as 'git.diff'",
    "version": "must be a semantic version such as '1.2.0'",
    "entry": "must be 'module:attribute', e.g. 'acme_lint:LintOperator'",
}


def published_schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    """``model``'s JSON Schema as Symphony publishes schemas in ``docs/`` (draft 2020-12)."""
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = title
    return schema


def schema_text(schema: dict[str, Any]) -> str:
    """A published schema file's exact text (stable key order)."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of manifests, as published in ``docs/extension-manifest.schema.json``."""
    return published_schema(Manifest, "Symphony extension manifest (symphony-extension.toml)")


def render_schema() -> str:
    """The published schema file's exact text."""
    return schema_text(manifest_schema())


if __name__ == "__main__":
    print(render_schema(), end="")
