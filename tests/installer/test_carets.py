"""The ``carets`` command as an extension author uses it: real subprocesses, real pytest runs,
real archives, an index on disk and on a real HTTP server, and the round trip into
``symphony ext install``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.installer.conftest import IndexServer
from tests.installer.support import carets, ext_list, registry, run, user_dir


@pytest.mark.parametrize(
    ("kind", "step"),
    [("operator", "tally.count"), ("instrument", "tally.prompt"), ("motif", "tally.summary")],
)
def test_a_new_extension_validates_and_passes_its_tests(
    tmp_path: Path, kind: str, step: str
) -> None:
    created = carets("new", f"acme-{kind}.tally", "--type", kind, "--dir", "exts", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    folder = tmp_path / "exts" / f"acme-{kind}.tally"
    assert created.stdout.strip() == str(Path("exts") / folder.name)
    module = f"acme_{kind}_tally"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "README.md",
        module,
        f"{module}/__init__.py",
        "pytest.ini",
        "symphony-extension.toml",
        "tests",
        f"tests/test_{module}.py",
    ]
    valid = carets("validate", cwd=folder)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.strip() == f"acme-{kind}.tally 0.1.0: valid ({step})"
    tested = carets("test", cwd=folder)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert " passed in " in tested.stdout and "failed" not in tested.stdout
    again = carets("new", f"acme-{kind}.tally", "--dir", "exts", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_validate_and_test_report_problems(tmp_path: Path) -> None:
    assert carets("new", "acme.broken", cwd=tmp_path).returncode == 0
    folder = tmp_path / "acme.broken"
    code = folder / "acme_broken" / "__init__.py"
    code.write_text(code.read_text().replace('@step("broken.count")', '@step("broken.other")'))
    unimplemented = carets("validate", str(folder), cwd=tmp_path)
    assert unimplemented.returncode == 1
    assert "acme.broken does not load: step type 'broken.count' is declared but has no @step" in (
        unimplemented.stderr
    )
    failing = carets("test", str(folder), cwd=tmp_path)
    assert failing.returncode == 1  # pytest's own status: tests failed
    assert "failed" in failing.stdout
    manifest = folder / "symphony-extension.toml"
    manifest.write_text(manifest.read_text().replace('version = "0.1.0"', 'version = "one"'))
    invalid = carets("validate", str(folder), cwd=tmp_path)
    assert invalid.returncode == 2
    assert f"carets: error: {manifest}: extension.version: must be a semantic version" in (
        invalid.stderr
    )
    assert carets("validate", "nowhere", cwd=tmp_path).returncode == 2


def test_pack_is_reproducible_and_publish_replaces_a_version(tmp_path: Path) -> None:
    carets("new", "acme.packed", cwd=tmp_path)
    folder = tmp_path / "acme.packed"
    first = carets("pack", cwd=folder)
    assert first.returncode == 0, first.stderr
    sha, archive = first.stdout.split()
    assert Path(archive) == folder / "dist" / "acme.packed-0.1.0.tar.gz"
    assert (folder / "dist" / "acme.packed-0.1.0.tar.gz.sha256").read_text() == (
        f"{sha}  acme.packed-0.1.0.tar.gz\n"
    )
    assert carets("pack", cwd=folder).stdout == first.stdout  # same bytes, same hash
    index = tmp_path / "market" / "index.json"
    done = carets("publish", archive, "--index", str(index), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "added its entry" in done.stderr
    entry = json.loads(index.read_text())["extensions"][0]
    assert entry["versions"][0]["sha256"] == sha
    assert entry["versions"][0]["url"] == "acme.packed-0.1.0.tar.gz"
    assert (index.parent / "acme.packed-0.1.0.tar.gz").is_file()
    # A changed README re-published under the same version replaces that entry.
    (folder / "README.md").write_text("changed\n")
    new_sha, _ = carets("pack", cwd=folder).stdout.split()
    base = "https://x.test/d"
    again = carets("publish", archive, "--index", str(index), "--base-url", base, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "replaced its entry" in again.stderr
    [version] = json.loads(index.read_text())["extensions"][0]["versions"]
    assert (version["sha256"], version["url"]) == (
        new_sha,
        "https://x.test/d/acme.packed-0.1.0.tar.gz",
    )
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    refused = carets("publish", archive, "--index", str(broken), cwd=tmp_path)
    assert refused.returncode == 2 and f"{broken}: $: Input should be" in refused.stderr
    assert broken.read_text() == "[]"


def test_round_trip_new_test_pack_publish_install_list_run(
    tmp_path: Path, index_server: IndexServer
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.md").write_text("three small words\n")
    assert carets("new", "acme.words", "--type", "operator", cwd=tmp_path).returncode == 0
    folder = tmp_path / "acme.words"
    tested = carets("test", "-k", "counts", cwd=folder)  # arguments after PATH go to pytest
    assert tested.returncode == 0, tested.stdout
    assert "1 passed, 2 deselected" in tested.stdout
    sha, archive = carets("pack", cwd=folder).stdout.split()
    url = f"{index_server.url}/market/index.json"
    published = carets("publish", archive, "--index", url, cwd=tmp_path)
    assert published.returncode == 0, published.stderr
    assert index_server.requests[-2:] == [
        "PUT /market/acme.words-0.1.0.tar.gz",
        "PUT /market/index.json",
    ]
    installed = run("ext", "install", "acme.words", "--index", url, "--yes", cwd=workspace)
    assert installed.returncode == 0, installed.stderr
    assert f"sha256:        {sha}" in installed.stderr
    listed = ext_list(workspace)["acme.words"]
    assert (listed["state"], listed["enabled"], listed["version"]) == ("loaded", True, "0.1.0")
    ran = run("ext", "run", "words.count", "--with", "path=notes.md", "--json", cwd=workspace)
    assert ran.returncode == 0, ran.stderr
    outputs = json.loads(ran.stdout)["outputs"]
    assert (outputs["lines"], outputs["words"]) == (1, 3)


def wait_for(predicate: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_dev_links_rechecks_on_change_and_unlinks(tmp_path: Path) -> None:
    carets("new", "acme.live", cwd=tmp_path)
    folder = tmp_path / "acme.live"
    out, err = tmp_path / "dev.out", tmp_path / "dev.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "symphony_cli.carets", "dev", str(folder), "--test"],
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_for(lambda: "watching" in err.read_text(), "the watch to start")
        link = user_dir() / "acme.live"
        assert link.is_symlink() and link.resolve() == folder
        assert registry()["acme.live"][0] == str(folder)
        assert "acme.live 0.1.0: valid (live.count); pinned; tests passed: 3 passed" in (
            out.read_text()
        )
        manifest = folder / "symphony-extension.toml"
        manifest.write_text(manifest.read_text().replace('"0.1.0"', '"0.2.0"'))
        wait_for(lambda: "0.2.0: valid" in out.read_text(), "the re-check after the edit")
        assert registry()["acme.live"][1] == "0.2.0"  # re-pinned: Symphony loads it as is
        code = folder / "acme_live" / "__init__.py"
        code.write_text(code.read_text().replace("def count(", "def count(self_missing, "))
        wait_for(lambda: "tests FAILED" in out.read_text(), "the failing tests to show")
    finally:
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=20)
    assert status == 0, err.read_text()
    assert "stopped watching; the extension stays linked" in err.read_text()
    assert ext_list(tmp_path)["acme.live"]["version"] == "0.2.0"
    unlinked = carets("dev", str(folder), "--unlink", cwd=tmp_path)
    assert unlinked.returncode == 0, unlinked.stderr
    assert not (user_dir() / "acme.live").exists() and "acme.live" not in registry()
    assert (folder / "symphony-extension.toml").is_file()  # the folder itself is kept
