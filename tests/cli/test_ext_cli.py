"""``symphony ext …`` as a user runs it: real subprocesses, real extension folders."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import symphony
from tests.ext_support import echo_step, write_extension

PROBE = """
class Ext(Operator):
    @step("probe.read")
    def read(self, ctx, inputs):
        return {"text": ctx.fs.read_text(inputs["text"])}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "proj"
    ws.mkdir()
    (ws / "notes.txt").write_text("hello\n", encoding="utf-8")
    return ws


@pytest.fixture
def third_party(tmp_path: Path) -> Path:
    """A folder of extensions outside the workspace and outside the repository."""
    folder = tmp_path / "exts"
    write_extension(
        folder,
        "acme.probe",
        PROBE,
        steps=echo_step("probe.read"),
        permissions='fs = { read = ["*.txt"] }',
    )
    return folder


def dirs_flag(folder: Path) -> str:
    return f"--set=extensions.dirs=[{json.dumps(str(folder))}]"


def test_list_shows_built_ins_and_a_third_party_extension(
    workspace: Path, third_party: Path
) -> None:
    result = symphony("ext", "list", "--json", dirs_flag(third_party), cwd=workspace)
    assert result.returncode == 0, result.stderr
    by_id = {e["id"]: e for e in json.loads(result.stdout)}
    assert by_id["symphony.shell"]["source"] == "builtin"
    assert by_id["acme.probe"]["source"] == "folder"
    assert by_id["acme.probe"]["state"] == "loaded"
    assert by_id["acme.probe"]["permissions"] == {"fs.read": ["*.txt"]}
    table = symphony("ext", "list", dirs_flag(third_party), cwd=workspace)
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == [
        "ID",
        "TYPE",
        "VERSION",
        "STATE",
        "SOURCE",
        "PERMISSIONS",
    ]
    row = next(line for line in table.stdout.splitlines() if line.startswith("acme.probe"))
    assert row.split() == ["acme.probe", "operator", "1.0.0", "loaded", "folder", "fs.read=*.txt"]


def test_run_a_step_audit_and_denial(workspace: Path, third_party: Path) -> None:
    flag = dirs_flag(third_party)
    ok = symphony(
        "ext", "run", "probe.read", "--with", "text=notes.txt", "--json", flag, cwd=workspace
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outputs"] == {"text": "hello\n"}
    (workspace / "secret.env").write_text("TOKEN=1\n", encoding="utf-8")
    denied = symphony("ext", "run", "probe.read", "--with", "text=secret.env", flag, cwd=workspace)
    assert denied.returncode == 1
    assert "'acme.probe' is not allowed fs.read on 'secret.env' (granted: *.txt)" in denied.stderr
    audit = symphony("ext", "audit", "acme.probe", "--denied", "--json", cwd=workspace)
    assert audit.returncode == 0, audit.stderr
    records = json.loads(audit.stdout)
    assert [(r["permission"], r["target"], r["decision"]) for r in records] == [
        ("fs.read", "secret.env", "denied")
    ]
    plain = symphony("ext", "audit", "-n", "5", cwd=workspace)
    assert "allowed acme.probe" in plain.stdout and "denied  acme.probe" in plain.stdout


def test_run_shell_and_its_exit_codes(workspace: Path) -> None:
    result = symphony(
        "ext", "run", "shell.run", "--with", "command=echo $((6*7))", "--json", cwd=workspace
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outputs"]["stdout"] == "42\n"
    assert data["extension"] == "symphony.shell"
    failed = symphony("ext", "run", "shell.run", "--with", "command=exit 4", cwd=workspace)
    assert failed.returncode == 1
    assert "exited with status 4" in failed.stderr
    unknown = symphony("ext", "run", "shel.run", cwd=workspace)
    assert unknown.returncode == 2
    assert "did you mean 'shell.run'?" in unknown.stderr
    bad_input = symphony("ext", "run", "shell.run", "--with", "comand=ls", cwd=workspace)
    assert bad_input.returncode == 2
    assert "unknown input 'comand'; did you mean 'command'?" in bad_input.stderr
    malformed = symphony("ext", "run", "shell.run", "--with", "command", cwd=workspace)
    assert malformed.returncode == 2
    assert "expected KEY=VALUE" in malformed.stderr


def test_ctrl_c_cancels_the_step_and_its_processes(workspace: Path) -> None:
    marker = workspace / "child.pid"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "symphony_cli",
            "ext",
            "run",
            "shell.run",
            "--with",
            f"command=sleep 60 & echo $! > {marker}; wait",
        ],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(marker.read_text())
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "cancelled" in err
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the step's background process survived the cancellation"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_validate_reports_every_problem_with_file_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    manifest = folder / "symphony-extension.toml"
    manifest.write_text(
        '[extension]\nid = "Acme"\nname = "x"\nversion = "1.0"\ntype = "operator"\n'
        'entry = "acme:Ext"\n\n[permissions]\nproces = ["git"]\n',
        encoding="utf-8",
    )
    result = symphony("ext", "validate", str(folder))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert f"symphony: error: {manifest}: extension.id: must be lowercase" in lines[0]
    assert any(f"{manifest}: extension.version: must be a semantic version" in x for x in lines)
    assert any(f"{manifest}: permissions.proces: unknown key" in x for x in lines)
    data = json.loads(symphony("ext", "validate", str(manifest), "--json").stdout)
    assert data["valid"] is False
    assert {e["key"] for e in data["errors"]} == {
        "extension.id",
        "extension.version",
        "permissions.proces",
    }
    assert symphony("ext", "validate", str(tmp_path / "missing")).returncode == 2


def test_validate_accepts_the_built_in_manifests() -> None:
    from engine.extensions.discovery import builtin_root

    for folder in sorted(p for p in builtin_root().iterdir() if p.is_dir()):
        if not (folder / "symphony-extension.toml").exists():
            continue
        result = symphony("ext", "validate", str(folder))
        assert result.returncode == 0, result.stderr
        assert ": valid (" in result.stdout


def test_disable_enable_and_info(workspace: Path, third_party: Path) -> None:
    flag = dirs_flag(third_party)
    off = symphony("ext", "disable", "acme.probe", flag, cwd=workspace)
    assert off.returncode == 0, off.stderr
    assert "acme.probe disabled" in off.stderr
    listed = json.loads(symphony("ext", "list", "--json", flag, cwd=workspace).stdout)
    assert next(e for e in listed if e["id"] == "acme.probe")["enabled"] is False
    refused = symphony("ext", "run", "probe.read", "--with", "text=notes.txt", flag, cwd=workspace)
    assert refused.returncode == 2
    on = symphony("ext", "enable", "acme.probe", flag, cwd=workspace)
    assert on.returncode == 0, on.stderr
    symphony("ext", "run", "probe.read", "--with", "text=notes.txt", flag, cwd=workspace)
    info = symphony("ext", "info", "acme.probe", flag, cwd=workspace)
    assert info.returncode == 0, info.stderr
    assert "with.text: string (required)" in info.stdout
    assert "fs.read   *.txt" in info.stdout
    assert "calls:      1 (0 failed); latency p50" in info.stdout
    data = json.loads(symphony("ext", "info", "acme.probe", "--json", flag, cwd=workspace).stdout)
    assert data["steps"]["probe.read"]["inputs"]["required"] == ["text"]
    assert data["metrics"]["calls"] == 1
    missing = symphony("ext", "info", "acme.prob", flag, cwd=workspace)
    assert missing.returncode == 2
    assert "did you mean 'acme.probe'?" in missing.stderr


def test_a_package_entry_point_is_discovered(workspace: Path, tmp_path: Path) -> None:
    """A package installed with a ``symphony.extensions`` entry point (a real dist-info
    folder on PYTHONPATH, as pip would leave it) is found and runs."""
    site = tmp_path / "site"
    write_extension(site, "pkgext", PROBE, steps=echo_step("probe.read"))
    package = site / "pkgext"
    module = next(package.glob("ext_*.py"))
    (package / "__init__.py").write_text(module.read_text(encoding="utf-8"), encoding="utf-8")
    module.unlink()
    manifest = package / "symphony-extension.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace(f'entry = "{module.stem}:Ext"', 'entry = "pkgext:Ext"').replace(
            "[permissions]", '[permissions]\nfs = { read = ["*.txt"] }'
        ),
        encoding="utf-8",
    )
    dist = site / "pkgext-1.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pkgext\nVersion: 1.0.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[symphony.extensions]\npkgext = pkgext\n", encoding="utf-8"
    )
    env = {"PYTHONPATH": str(site)}
    listed = symphony("ext", "list", "--json", cwd=workspace, env=env)
    assert listed.returncode == 0, listed.stderr
    entry = next(e for e in json.loads(listed.stdout) if e["id"] == "pkgext")
    assert (entry["source"], entry["state"]) == ("entry_point", "loaded"), entry["reason"]
    ran = symphony(
        "ext", "run", "probe.read", "--with", "text=notes.txt", "--json", cwd=workspace, env=env
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["outputs"] == {"text": "hello\n"}
