"""``symphony ext install | update | remove | search`` as a user runs them: real subprocesses,
real archives and indexes (files and a real HTTP server), a real terminal for the prompts; and
every refusal leaves the extensions folder and the registry exactly as they were."""

from __future__ import annotations

import json
from pathlib import Path

from engine.extensions.archive import pack
from tests.installer.conftest import IndexServer
from tests.installer.support import (
    ext_list,
    installed_version,
    on_terminal,
    publish_ext,
    registry,
    run,
    snapshot,
    user_dir,
    write_ext,
)


def test_install_from_a_folder_asks_first_then_installs_enabled(ws: Path, tmp_path: Path) -> None:
    folder = write_ext(tmp_path / "src", "acme.hello")
    refused = run("ext", "install", str(folder), cwd=ws)
    assert refused.returncode == 2
    assert "files read:    *.txt" in refused.stderr
    assert "no terminal to ask on; pass --yes" in refused.stderr
    assert installed_version("acme.hello") is None and "acme.hello" not in registry()

    done = run("ext", "install", str(folder), "--yes", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert f"Install acme.hello 1.0.0 (operator, new) from folder {folder}" in done.stderr
    assert installed_version("acme.hello") == "1.0.0"
    path, version, _digest, enabled = registry()["acme.hello"]
    assert (path, version, enabled) == (str((user_dir() / "acme.hello").resolve()), "1.0.0", 1)
    listed = ext_list(ws)["acme.hello"]
    assert (listed["state"], listed["source"], listed["enabled"]) == ("loaded", "folder", True)
    ran = run("ext", "run", "hello.echo", "--with", "text=hi", "--json", cwd=ws)
    assert json.loads(ran.stdout)["outputs"] == {"text": "acme.hello 1.0.0: hi"}


def test_install_from_an_archive(ws: Path, tmp_path: Path) -> None:
    archive = pack(write_ext(tmp_path / "src", "acme.arch"), tmp_path / "dist")
    done = run("ext", "install", str(archive), "-y", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert f"from archive {archive}" in done.stderr
    assert installed_version("acme.arch") == "1.0.0"
    assert ext_list(ws)["acme.arch"]["state"] == "loaded"


def test_install_from_an_index_file_resolves_dependencies(ws: Path, tmp_path: Path) -> None:
    index = str(tmp_path / "market" / "index.json")
    src, dist = tmp_path / "src", tmp_path / "dist"
    for version in ("1.0.0", "1.3.0", "2.0.0"):
        publish_ext(write_ext(src, "acme.base", version), index, dist)
    publish_ext(write_ext(src, "acme.app", requires={"acme.base": ">=1.2,<2"}), index, dist)
    # The index comes from the configuration (a path relative to the workspace).
    (ws / ".symphony").mkdir()
    (ws / ".symphony" / "config.toml").write_text(
        '[extensions]\nmarketplace = "../market/index.json"\n'
    )
    done = run("ext", "install", "acme.app", "--yes", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert f"from index {index}" in done.stderr
    assert "requires:      acme.base >=1.2,<2" in done.stderr
    assert "Install acme.base 1.3.0 (operator, new)" in done.stderr
    assert (installed_version("acme.app"), installed_version("acme.base")) == ("1.0.0", "1.3.0")
    listed = ext_list(ws)
    assert listed["acme.app"]["state"] == listed["acme.base"]["state"] == "loaded"
    # Its dependency is required now: removing it is refused, and nothing changes.
    before = snapshot()
    refused = run("ext", "remove", "acme.base", "--yes", cwd=ws)
    assert refused.returncode == 1
    assert "acme.app 1.0.0 requires acme.base >=1.2,<2" in refused.stderr
    assert snapshot() == before
    forced = run("ext", "remove", "acme.base", "--yes", "--force", cwd=ws)
    assert forced.returncode == 0, forced.stderr
    assert installed_version("acme.base") is None and "acme.base" not in registry()


def test_install_from_an_index_served_over_http(
    ws: Path, tmp_path: Path, index_server: IndexServer
) -> None:
    index = str(index_server.folder / "index.json")
    for version in ("1.0.0", "1.1.0"):
        publish_ext(write_ext(tmp_path / "src", "acme.web", version), index, tmp_path / "dist")
    url = f"{index_server.url}/index.json"
    found = run("ext", "search", "web", f"--set=extensions.marketplace={url}", "--json", cwd=ws)
    assert found.returncode == 0, found.stderr
    [entry] = json.loads(found.stdout)
    assert (entry["id"], entry["latest"], entry["installed"]) == ("acme.web", "1.1.0", None)
    done = run("ext", "install", "acme.web@1.0.0", "--index", url, "--yes", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert installed_version("acme.web") == "1.0.0"
    assert "GET /acme.web-1.0.0.tar.gz" in index_server.requests
    # Same permissions: the update needs no confirmation, even without a terminal.
    updated = run("ext", "update", "--index", url, cwd=ws)
    assert updated.returncode == 0, updated.stderr
    assert "Update acme.web 1.0.0 → 1.1.0" in updated.stderr
    assert installed_version("acme.web") == "1.1.0"
    assert run("ext", "update", "--index", url, cwd=ws).stderr.strip() == (
        "acme.web 1.1.0 is up to date"
    )


def test_a_tampered_archive_is_refused_and_nothing_is_installed(ws: Path, tmp_path: Path) -> None:
    market = tmp_path / "market"
    index = str(market / "index.json")
    publish_ext(write_ext(tmp_path / "src", "acme.base"), index, tmp_path / "dist")
    publish_ext(
        write_ext(tmp_path / "src", "acme.app", requires={"acme.base": ">=1"}),
        index,
        tmp_path / "dist",
    )
    # The dependency's archive is swapped for another one after publishing.
    evil = pack(write_ext(tmp_path / "evil", "acme.base", permissions='process = ["*"]'), market)
    assert evil.name == "acme.base-1.0.0.tar.gz"
    before = snapshot()
    refused = run("ext", "install", "acme.app", "--index", index, "--yes", cwd=ws)
    assert refused.returncode == 1
    assert "acme.base 1.0.0: the archive" in refused.stderr
    assert "but the index says" in refused.stderr and "nothing installed" in refused.stderr
    assert snapshot() == before  # acme.app, staged first, was not installed either


def test_a_malicious_archive_is_refused_naming_the_member(ws: Path, tmp_path: Path) -> None:
    import io
    import tarfile

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        manifest = (
            write_ext(tmp_path / "src", "acme.evil") / "symphony-extension.toml"
        ).read_bytes()
        info = tarfile.TarInfo("acme.evil/symphony-extension.toml")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        escape = tarfile.TarInfo("acme.evil/../../escaped.txt")
        escape.size = 3
        tar.addfile(escape, io.BytesIO(b"owned"[:3]))
    before = snapshot()
    refused = run("ext", "install", str(archive), "--yes", cwd=ws)
    assert refused.returncode == 2
    assert f"{archive}: acme.evil/../../escaped.txt: a path with '..'" in refused.stderr
    assert snapshot() == before
    assert not list(tmp_path.rglob("escaped.txt"))


def test_a_widening_update_asks_again_and_declining_keeps_the_old_version(
    ws: Path, tmp_path: Path
) -> None:
    index = str(tmp_path / "market" / "index.json")
    src, dist = tmp_path / "src", tmp_path / "dist"
    publish_ext(write_ext(src, "acme.grow"), index, dist)
    assert run("ext", "install", "acme.grow", "--index", index, "-y", cwd=ws).returncode == 0
    wider = 'fs = { read = ["*.txt"] }\nnetwork = ["api.example.com"]'
    publish_ext(write_ext(src, "acme.grow", "2.0.0", permissions=wider), index, dist)
    before = snapshot()

    no_tty = run("ext", "update", "--index", index, cwd=ws)
    assert no_tty.returncode == 2 and "pass --yes" in no_tty.stderr
    assert "+ network hosts: api.example.com" in no_tty.stderr
    assert "files read" not in no_tty.stderr  # only what is new is shown

    status, screen = on_terminal(["ext", "update", "--index", index], ws, "n")
    assert status == 1, screen
    assert "Update acme.grow 1.0.0 → 2.0.0" in screen
    assert "+ network hosts: api.example.com" in screen
    assert "Install with these permissions? [y/N]" in screen and "nothing installed" in screen
    assert snapshot() == before
    assert installed_version("acme.grow") == "1.0.0"

    status, screen = on_terminal(["ext", "update", "--index", index], ws, "y")
    assert status == 0, screen
    assert installed_version("acme.grow") == "2.0.0"
    assert registry()["acme.grow"][1] == "2.0.0"
    assert ext_list(ws)["acme.grow"]["state"] == "loaded"  # the new pin matches: no review


def test_yes_accepts_a_widening_update(ws: Path, tmp_path: Path) -> None:
    index = str(tmp_path / "market" / "index.json")
    src, dist = tmp_path / "src", tmp_path / "dist"
    publish_ext(write_ext(src, "acme.grow"), index, dist)
    run("ext", "install", "acme.grow", "--index", index, "-y", cwd=ws)
    publish_ext(write_ext(src, "acme.grow", "1.1.0", permissions='process = ["git"]'), index, dist)
    done = run("ext", "update", "acme.grow", "--index", index, "--yes", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "+ processes:     git" in done.stderr
    assert installed_version("acme.grow") == "1.1.0"


def test_dependency_conflicts_and_missing_dependencies_are_refused(
    ws: Path, tmp_path: Path
) -> None:
    index = str(tmp_path / "market" / "index.json")
    src, dist = tmp_path / "src", tmp_path / "dist"
    for version in ("1.0.0", "2.0.0"):
        publish_ext(write_ext(src, "acme.base", version), index, dist)
    publish_ext(write_ext(src, "acme.old", requires={"acme.base": "^1.0"}), index, dist)
    publish_ext(write_ext(src, "acme.new", requires={"acme.base": ">=2"}), index, dist)
    publish_ext(write_ext(src, "acme.orphan", requires={"acme.gone": "*"}), index, dist)
    assert run("ext", "install", "acme.old", "--index", index, "-y", cwd=ws).returncode == 0
    assert installed_version("acme.base") == "1.0.0"
    before = snapshot()

    conflict = run("ext", "install", "acme.new", "--index", index, "-y", cwd=ws)
    assert conflict.returncode == 1
    assert "no version of acme.base satisfies every requirement" in conflict.stderr
    assert "acme.new 1.0.0 requires >=2; acme.old 1.0.0 requires ^1.0" in conflict.stderr
    explicit = run("ext", "install", "acme.base@2.0.0", "--index", index, "-y", cwd=ws)
    assert explicit.returncode == 1
    assert "cannot install acme.base 2.0.0: acme.old 1.0.0 requires acme.base ^1.0" in (
        explicit.stderr
    )
    missing = run("ext", "install", "acme.orphan", "--index", index, "-y", cwd=ws)
    assert missing.returncode == 1
    assert "acme.gone is needed (acme.orphan 1.0.0 requires *)" in missing.stderr
    assert "the index does not list it" in missing.stderr
    assert snapshot() == before


def test_a_malformed_index_is_refused_with_its_json_path(ws: Path, tmp_path: Path) -> None:
    index = tmp_path / "index.json"
    index.write_text(
        json.dumps(
            {
                "format": 1,
                "extensions": [
                    {
                        "id": "acme.x",
                        "name": "X",
                        "type": "operator",
                        "versions": [{"version": "1.0.0", "url": "x.tar.gz", "sha256": "abc"}],
                    }
                ],
            }
        )
    )
    before = snapshot()
    result = run("ext", "install", "acme.x", "--index", str(index), "-y", cwd=ws)
    assert result.returncode == 2
    assert f"{index}: $.extensions[0].versions[0].sha256: String should match pattern" in (
        result.stderr
    )
    assert snapshot() == before
    search = run("ext", "search", "--index", str(index), cwd=ws)
    assert search.returncode == 2
    none = run("ext", "search", cwd=ws)
    assert none.returncode == 2 and "no marketplace index is configured" in none.stderr


def test_remove_asks_and_only_removes_what_the_installer_manages(ws: Path, tmp_path: Path) -> None:
    folder = write_ext(tmp_path / "src", "acme.gone")
    run("ext", "install", str(folder), "-y", cwd=ws)
    refused = run("ext", "remove", "acme.gone", cwd=ws)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert installed_version("acme.gone") == "1.0.0"
    builtin = run("ext", "remove", "symphony.git", "--yes", cwd=ws)
    assert builtin.returncode == 2 and "symphony.git is built into Symphony" in builtin.stderr
    unknown = run("ext", "remove", "acme.nope", "--yes", cwd=ws)
    assert unknown.returncode == 2 and "not installed" in unknown.stderr
    done = run("ext", "remove", "acme.gone", "--yes", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "acme.gone" not in ext_list(ws) and "acme.gone" not in registry()
    assert folder.is_dir()  # the source folder it was installed from is untouched


def test_bad_targets_are_usage_errors(ws: Path, tmp_path: Path) -> None:
    for target, message in (
        ("./missing", "no such folder or archive"),
        ("acme.x", "no marketplace index is configured"),
        ("Not An Id", "not an extension id (ID[@VERSION]), a folder or an archive"),
        ("./notes.txt", "not an extension folder, an archive (.tar.gz) or an id"),
    ):
        result = run("ext", "install", target, "-y", cwd=ws)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
    builtin = run("ext", "install", "extensions/shell", "-y", cwd=Path(__file__).parents[2])
    assert builtin.returncode == 1
    assert "symphony.shell is already installed (built into Symphony)" in builtin.stderr
