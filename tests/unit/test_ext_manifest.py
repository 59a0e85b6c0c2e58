"""The extension manifest: parsing, defaults, errors naming file + key + reason, schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.extensions.manifest import (
    MANIFEST_NAME,
    FieldSpec,
    Manifest,
    StepTypeSpec,
    load_manifest,
    manifest_hash,
    manifest_schema,
    parse_manifest,
    render_schema,
)
from engine.types.errors import EXIT_USAGE, ExtensionError, ManifestError, ManifestErrors

REPO = Path(__file__).resolve().parents[2]
SHELL_MANIFEST = REPO / "extensions" / "shell" / MANIFEST_NAME
SOURCE = "/exts/acme/symphony-extension.toml"

MINIMAL = """\
[extension]
id = "acme.lint"
name = "Lint"
version = "1.0.0"
type = "operator"
entry = "acme_lint:LintOperator"
"""


def replace(old: str, new: str, text: str = MINIMAL) -> str:
    assert old in text
    return text.replace(old, new, 1)


def error_of(text: str | bytes, source: str = SOURCE) -> ManifestError:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, source)
    err = info.value
    assert isinstance(err, ExtensionError)
    assert err.exit_code == EXIT_USAGE
    assert err.source == source
    assert str(err).startswith(source)
    return err


def single_error(text: str | bytes, key: str | None) -> ManifestError:
    err = error_of(text)
    assert not isinstance(err, ManifestErrors), str(err)
    assert err.key == key
    if key is not None:
        assert str(err) == f"{SOURCE}: {key}: {err.reason}"
    return err


# --- valid manifests -----------------------------------------------------------------------------


def test_shell_manifest_parses() -> None:
    manifest, digest = load_manifest(SHELL_MANIFEST)
    assert manifest.id == "symphony.shell"
    assert manifest.extension.type == "operator"
    assert manifest.extension.entry == "extensions.shell:ShellOperator"
    assert manifest.runtime.isolation == "in-process"
    assert manifest.permissions.fs.read == ["**"]
    assert manifest.permissions.fs.write == []
    assert manifest.permissions.process == ["*"]
    step = manifest.step("shell.run")
    assert step is not None
    assert step.inputs["command"].required is True
    assert step.inputs["command"].type == "string"
    assert step.inputs["check"].default is True
    assert step.inputs["cwd"].default == "."
    assert set(step.outputs) == {"stdout", "stderr", "exit_code", "duration_s", "timed_out"}
    assert step.outputs["exit_code"].type == "integer"
    assert manifest.step("shell.nope") is None
    assert digest == hashlib.sha256(SHELL_MANIFEST.read_bytes()).hexdigest()


def test_minimal_manifest_gets_documented_defaults() -> None:
    manifest = parse_manifest(MINIMAL.encode(), SOURCE)
    ext = manifest.extension
    assert (ext.id, ext.name, ext.version, ext.type, ext.entry) == (
        "acme.lint",
        "Lint",
        "1.0.0",
        "operator",
        "acme_lint:LintOperator",
    )
    assert manifest.id == "acme.lint"
    assert ext.description == ""
    assert ext.authors == []
    assert ext.license == ""
    assert ext.symphony == ">=0.1"
    assert manifest.runtime.isolation is None
    assert manifest.runtime.activation_timeout_s is None
    assert manifest.runtime.call_timeout_s == 600.0
    assert manifest.runtime.memory_mb is None
    perms = manifest.permissions
    assert perms.fs.read == []
    assert perms.fs.write == []
    assert perms.process == []
    assert perms.env == []
    assert perms.network == []
    assert perms.models == []
    assert manifest.activation == []
    assert not manifest.activates_on_startup()
    assert manifest.contributes.steps == []
    assert manifest.contributes.commands == []
    assert manifest.contributes.panels == []
    assert manifest.contributes.settings == {}


def test_field_spec_defaults() -> None:
    text = MINIMAL + '[[contributes.steps]]\ntype = "acme.lint.run"\ninputs = { x = {} }\n'
    step = parse_manifest(text.encode(), SOURCE).contributes.steps[0]
    assert step.title == ""
    assert step.outputs == {}
    spec = step.inputs["x"]
    assert spec == FieldSpec()
    assert (spec.type, spec.description, spec.required, spec.default, spec.enum, spec.items) == (
        "any",
        "",
        False,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "event", ["on_startup", "on_command:acme.lint.fix", "on_step:acme.lint", "on_file_open:*.py"]
)
def test_valid_activation_events(event: str) -> None:
    manifest = parse_manifest(f"activation = [{event!r}]\n{MINIMAL}".encode(), SOURCE)
    assert manifest.activation == [event]
    assert manifest.activates_on_startup() is (event == "on_startup")


@pytest.mark.parametrize("version", ["0.0.0", "1.2.3", "10.20.30", "1.0.0-rc.1", "1.0.0+build.5"])
def test_valid_semver(version: str) -> None:
    text = replace('version = "1.0.0"', f'version = "{version}"')
    assert parse_manifest(text.encode(), SOURCE).extension.version == version


@pytest.mark.parametrize("ext_id", ["acme", "acme.lint", "a-b.c_d", "x1.y2.z3"])
def test_valid_ids(ext_id: str) -> None:
    text = replace('id = "acme.lint"', f'id = "{ext_id}"')
    assert parse_manifest(text.encode(), SOURCE).id == ext_id


def test_manifest_is_frozen() -> None:
    manifest = parse_manifest(MINIMAL.encode(), SOURCE)
    with pytest.raises(ValueError, match="frozen"):
        manifest.extension.id = "other"  # type: ignore[misc]


# --- invalid input --------------------------------------------------------------------------------


def test_not_utf8() -> None:
    err = single_error(b"\xff\xfe" + MINIMAL.encode(), None)
    assert "UTF-8" in err.reason
    assert "byte 0" in err.reason


def test_invalid_toml_reports_line() -> None:
    err = single_error(MINIMAL + "broken = \n", None)
    assert "not valid TOML" in err.reason
    assert "line 7" in err.reason


def test_unknown_top_level_key() -> None:
    err = single_error(MINIMAL + "[bogus]\nx = 1\n", "bogus")
    assert err.reason == "unknown key"


def test_unknown_nested_key() -> None:
    err = single_error(MINIMAL + '[permissions]\nfs = { reed = ["**"] }\n', "permissions.fs.reed")
    assert err.reason == "unknown key"


def test_unknown_key_in_extension_table() -> None:
    err = single_error(MINIMAL + 'homepage = "https://example.com"\n', "extension.homepage")
    assert err.reason == "unknown key"


def test_missing_required_key() -> None:
    err = single_error(replace('entry = "acme_lint:LintOperator"\n', ""), "extension.entry")
    assert err.reason == "required key is missing"


def test_missing_extension_table() -> None:
    err = single_error('activation = ["on_startup"]\n', "extension")
    assert err.reason == "required key is missing"


@pytest.mark.parametrize("bad", ["Acme.Lint", "acme..x", ".acme", "acme.", "acme lint", "-acme"])
def test_bad_id(bad: str) -> None:
    err = single_error(replace('id = "acme.lint"', f'id = "{bad}"'), "extension.id")
    assert "lowercase dotted" in err.reason
    assert repr(bad) in err.reason


@pytest.mark.parametrize("bad", ["1.0", "01.0.0", "1.0.0.0", "v1.0.0", "1.02.0", ""])
def test_bad_semver(bad: str) -> None:
    err = single_error(replace('version = "1.0.0"', f'version = "{bad}"'), "extension.version")
    assert "semantic version" in err.reason
    assert repr(bad) in err.reason


@pytest.mark.parametrize("bad", ["acme", "acme:", ":Lint", "acme:Lint:X", "acme-lint:X", "a.:X"])
def test_bad_entry(bad: str) -> None:
    text = replace('entry = "acme_lint:LintOperator"', f'entry = "{bad}"')
    err = single_error(text, "extension.entry")
    assert "module:attribute" in err.reason
    assert repr(bad) in err.reason


def test_bad_symphony_specifier() -> None:
    err = single_error(MINIMAL + 'symphony = "banana"\n', "extension.symphony")
    assert "version specifier" in err.reason
    assert "'banana'" in err.reason


def test_bad_symphony_specifier_names_the_value_once() -> None:
    # The validator's message already quotes the value; the generic "(got …)" suffix repeats it.
    err = single_error(MINIMAL + 'symphony = "banana"\n', "extension.symphony")
    assert err.reason.count("banana") == 1, err.reason


def test_good_symphony_specifier() -> None:
    manifest = parse_manifest((MINIMAL + 'symphony = ">=0.1,<2"\n').encode(), SOURCE)
    assert manifest.extension.symphony == ">=0.1,<2"


def test_wrong_type_is_strict_version_int() -> None:
    err = single_error(replace('version = "1.0.0"', "version = 1"), "extension.version")
    assert "string" in err.reason
    assert "got 1" in err.reason


def test_wrong_type_is_strict_process_string() -> None:
    err = single_error(MINIMAL + '[permissions]\nprocess = "git"\n', "permissions.process")
    assert "list" in err.reason
    assert "'git'" in err.reason


def test_wrong_type_bool_for_int() -> None:
    err = single_error(MINIMAL + "[runtime]\nmemory_mb = true\n", "runtime.memory_mb")
    assert "integer" in err.reason


def test_bad_literal() -> None:
    err = single_error(replace('type = "operator"', 'type = "plugin"'), "extension.type")
    assert "operator" in err.reason
    assert "'plugin'" in err.reason


def test_bad_activation_event() -> None:
    err = single_error('activation = ["on_boot"]\n' + MINIMAL, "activation")
    assert "unknown activation event 'on_boot'" in err.reason
    assert "on_startup" in err.reason


def test_duplicate_step_type() -> None:
    text = MINIMAL + '[[contributes.steps]]\ntype = "a.b"\n[[contributes.steps]]\ntype = "a.b"\n'
    err = single_error(text, "contributes")
    assert "step type 'a.b' is declared more than once" in err.reason


def test_duplicate_command() -> None:
    text = (
        MINIMAL
        + '[[contributes.commands]]\nid = "a.fix"\ntitle = "Fix"\n'
        + '[[contributes.commands]]\nid = "a.fix"\ntitle = "Fix again"\n'
    )
    err = single_error(text, "contributes")
    assert "command 'a.fix' is declared more than once" in err.reason


def test_bad_step_type_name() -> None:
    err = single_error(
        MINIMAL + '[[contributes.steps]]\ntype = "Git Diff"\n', "contributes.steps.0.type"
    )
    assert "'git.diff'" in err.reason
    assert "'Git Diff'" in err.reason


def test_items_on_non_array() -> None:
    text = (
        MINIMAL
        + '[[contributes.steps]]\ntype = "a.b"\n'
        + 'inputs = { x = { type = "string", items = "string" } }\n'
    )
    err = single_error(text, "contributes.steps.0.inputs.x")
    assert "`items` is only allowed on an array" in err.reason


def test_required_with_default() -> None:
    text = (
        MINIMAL
        + '[[contributes.steps]]\ntype = "a.b"\n'
        + 'inputs = { x = { type = "string", required = true, default = "y" } }\n'
    )
    err = single_error(text, "contributes.steps.0.inputs.x")
    assert "required value cannot have a default" in err.reason


def test_setting_field_error_key() -> None:
    text = MINIMAL + '[contributes.settings]\nlevel = { type = "strng" }\n'
    err = single_error(text, "contributes.settings.level.type")
    assert "'strng'" in err.reason


def test_several_errors_at_once() -> None:
    text = (
        replace('version = "1.0.0"', 'version = "1.0"', replace('id = "acme.lint"', 'id = "Acme"'))
        + '[permissions]\nfs = { reed = ["**"] }\nprocess = "git"\n'
        + "[bogus]\n"
    )
    err = error_of(text)
    assert isinstance(err, ManifestErrors)
    keys = [e.key for e in err.errors]
    assert len(keys) == 5
    assert set(keys) == {
        "extension.id",
        "extension.version",
        "permissions.fs.reed",
        "permissions.process",
        "bogus",
    }
    assert all(e.source == SOURCE for e in err.errors)
    lines = str(err).splitlines()
    assert len(lines) == 5
    for e in err.errors:
        assert f"{SOURCE}: {e.key}: {e.reason}" in lines
    # The aggregate mirrors its first error.
    assert (err.key, err.reason) == (err.errors[0].key, err.errors[0].reason)


# --- loading --------------------------------------------------------------------------------------


def test_load_manifest_from_folder(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text(MINIMAL, encoding="utf-8")
    manifest, digest = load_manifest(tmp_path)
    assert manifest.id == "acme.lint"
    assert digest == hashlib.sha256(MINIMAL.encode()).hexdigest()


def test_load_manifest_from_file(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    manifest, _ = load_manifest(path)
    assert manifest.extension.name == "Lint"


def test_load_manifest_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_NAME
    path.write_text(MINIMAL + "[bogus]\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert info.value.source == str(path)
    assert info.value.key == "bogus"


def test_load_manifest_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "nope.toml")
    assert info.value.source == str(tmp_path / "nope.toml")
    assert info.value.reason == "no such file"


def test_load_manifest_folder_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert info.value.source == str(tmp_path / MANIFEST_NAME)
    assert info.value.reason == "no such file"


def test_hash_is_sha256_of_bytes(tmp_path: Path) -> None:
    data = MINIMAL.encode() + b"# trailing comment\n"
    (tmp_path / MANIFEST_NAME).write_bytes(data)
    _, digest = load_manifest(tmp_path)
    assert digest == hashlib.sha256(data).hexdigest() == manifest_hash(data)
    assert manifest_hash(data) != manifest_hash(MINIMAL.encode())


# --- schema ---------------------------------------------------------------------------------------


def test_json_schema() -> None:
    text = render_schema()
    assert text.endswith("}\n")
    schema = json.loads(text)
    assert schema == json.loads(json.dumps(manifest_schema()))
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "symphony-extension.toml" in schema["title"]
    assert schema["type"] == "object"
    assert "extension" in schema["required"]
    assert set(schema["properties"]) == {
        "extension",
        "runtime",
        "permissions",
        "activation",
        "contributes",
    }
    assert schema["additionalProperties"] is False
    info = schema["$defs"]["ExtensionInfo"]
    assert {"id", "name", "version", "type", "entry"} <= set(info["required"])
    assert info["properties"]["id"]["pattern"]


def test_step_input_schema() -> None:
    step = StepTypeSpec(
        type="acme.lint.run",
        inputs={
            "paths": FieldSpec(type="array", items="string", required=True, description="Files."),
            "mode": FieldSpec(type="string", enum=["fast", "full"], default="fast"),
            "jobs": FieldSpec(type="integer", default=4),
            "extra": FieldSpec(),
        },
    )
    assert step.input_schema() == {
        "type": "object",
        "properties": {
            "paths": {"type": "array", "items": {"type": "string"}, "description": "Files."},
            "mode": {"type": "string", "default": "fast", "enum": ["fast", "full"]},
            "jobs": {"type": "integer", "default": 4},
            "extra": {},
        },
        "additionalProperties": False,
        "required": ["paths"],
    }


def test_step_input_schema_without_required() -> None:
    schema = StepTypeSpec(type="a.b", inputs={"x": FieldSpec(type="boolean")}).input_schema()
    assert "required" not in schema
    assert schema["properties"] == {"x": {"type": "boolean"}}


def test_shell_step_input_schema() -> None:
    manifest, _ = load_manifest(SHELL_MANIFEST)
    step = manifest.step("shell.run")
    assert step is not None
    schema = step.input_schema()
    assert schema["required"] == ["command"]
    assert schema["properties"]["check"]["default"] is True
    assert schema["properties"]["timeout_s"]["type"] == "number"
    assert isinstance(Manifest.model_validate(manifest.model_dump()), Manifest)


@pytest.mark.parametrize(
    ("requires", "reason"),
    [
        ('{ "Acme.Base" = ">=1" }', "'Acme.Base' is not an extension id"),
        ('{ "acme.base" = "=>1.2" }', "'acme.base': '=>1.2' is not a version comparison"),
        ('{ "acme.base" = 1 }', "Input should be a valid string (got 1)"),
        ('{ "acme.lint" = "*" }', "requires: an extension cannot require itself ('acme.lint')"),
    ],
)
def test_requires_names_the_bad_dependency(requires: str, reason: str) -> None:
    text = MINIMAL + f"requires = {requires}\n"
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text.encode(), SOURCE)
    assert caught.value.source == SOURCE
    assert caught.value.key is not None and caught.value.key.startswith("extension")
    assert reason in caught.value.reason


def test_requires_accepts_ranges() -> None:
    text = MINIMAL + 'requires = { "acme.base" = ">=1.2,<2", "acme.util" = "^0.3" }\n'
    manifest = parse_manifest(text.encode(), SOURCE)
    assert manifest.extension.requires == {"acme.base": ">=1.2,<2", "acme.util": "^0.3"}
