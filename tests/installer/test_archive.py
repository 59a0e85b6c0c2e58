"""Extension archives: reproducible packing, and extraction that refuses everything unsafe
with the archive and the member named."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from engine.extensions.archive import extract, pack, sha256_file
from engine.types.errors import ArchiveError, ManifestError
from tests.installer.support import write_ext

MANIFEST = (
    b'[extension]\nid = "acme.t"\nname = "t"\nversion = "1.0.0"\ntype = "operator"\nentry = "m:E"\n'
)


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def test_packing_is_reproducible_and_leaves_caches_out(tmp_path: Path) -> None:
    folder = write_ext(tmp_path / "src", "acme.pack")
    for junk in ("__pycache__/m.cpython-311.pyc", ".git/HEAD", "stale.pyc", "dist/old.tar.gz"):
        (folder / junk).parent.mkdir(parents=True, exist_ok=True)
        (folder / junk).write_text("junk")
    (folder / "run.sh").write_text("#!/bin/sh\n")
    (folder / "run.sh").chmod(0o700)
    (folder / "docs").mkdir()
    (folder / "docs" / "link.md").symlink_to("../run.sh")
    first = pack(folder, tmp_path / "a")
    for path in folder.rglob("*"):  # new times and owner-only modes change nothing
        if not path.is_symlink():
            path.touch()
    (folder / "symphony-extension.toml").chmod(0o600)
    second = pack(folder, tmp_path / "b")
    assert first.name == "acme.pack-1.0.0.tar.gz"
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        members = {m.name: m for m in tar.getmembers()}
    names = sorted(members)
    assert names == sorted(
        [
            "acme.pack-1.0.0",
            "acme.pack-1.0.0/docs",
            "acme.pack-1.0.0/docs/link.md",
            "acme.pack-1.0.0/run.sh",
            "acme.pack-1.0.0/symphony-extension.toml",
            *(f"acme.pack-1.0.0/{p.name}" for p in folder.glob("m_*.py")),
        ]
    )
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members.values()} == {
        (0, 0, "", "", 0)
    }
    assert members["acme.pack-1.0.0/run.sh"].mode == 0o755
    assert members["acme.pack-1.0.0/symphony-extension.toml"].mode == 0o644
    assert members["acme.pack-1.0.0/docs/link.md"].linkname == "../run.sh"
    out = extract(first, tmp_path / "x")
    assert (out / "docs" / "link.md").read_text() == "#!/bin/sh\n"


def test_packing_refuses_a_link_pointing_out(tmp_path: Path) -> None:
    folder = write_ext(tmp_path / "src", "acme.leak")
    (folder / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(ArchiveError, match=r"passwd: a symbolic link pointing outside it"):
        pack(folder, tmp_path / "dist")
    with pytest.raises(ManifestError):
        pack(tmp_path, tmp_path / "dist")


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([("/etc/cron.d/x", b"x")], "/etc/cron.d/x: an absolute path"),
        ([("ext/../../x", b"x")], "ext/../../x: a path with '..'"),
        (
            [("ext/symphony-extension.toml", MANIFEST), ("other/x", b"x")],
            "other/x: outside the archive's single top-level folder 'ext'",
        ),
        (
            [special("ext/evil", tarfile.SYMTYPE, "../../../etc/passwd")],
            "ext/evil: a symbolic link pointing outside the extension (../../../etc/passwd)",
        ),
        (
            [special("ext/abs", tarfile.SYMTYPE, "/etc/passwd")],
            "ext/abs: a symbolic link pointing outside the extension (/etc/passwd)",
        ),
        (
            [special("ext/hard", tarfile.LNKTYPE, "ext/symphony-extension.toml")],
            "ext/hard: a hard link (not allowed)",
        ),
        ([special("ext/tty", tarfile.CHRTYPE)], "ext/tty: a device file, FIFO or other special"),
        ([special("ext/fifo", tarfile.FIFOTYPE)], "ext/fifo: a device file, FIFO or other special"),
        ([("ext/readme.md", b"no manifest")], "ext/symphony-extension.toml: missing"),
        ([("ext", b"a file at the top")], "ext: the top level must be a folder"),
    ],
)
def test_unsafe_archives_are_refused_naming_the_member(
    tmp_path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], reason: str
) -> None:
    archive = make_tar(tmp_path / "bad.tar.gz", members)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ArchiveError) as caught:
        extract(archive, dest)
    assert str(caught.value).startswith(f"{archive}: {reason}")
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


def test_archive_bombs_are_refused(tmp_path: Path) -> None:
    big = make_tar(
        tmp_path / "big.tar.gz",
        [("ext/symphony-extension.toml", MANIFEST), ("ext/zeros", bytes(200_000))],
    )
    (tmp_path / "d1").mkdir()
    with pytest.raises(ArchiveError, match=r"ext/zeros: the content exceeds 100000 bytes"):
        extract(big, tmp_path / "d1", max_bytes=100_000)
    many = make_tar(tmp_path / "many.tar.gz", [(f"ext/f{i}", b"x") for i in range(20)])
    (tmp_path / "d2").mkdir()
    with pytest.raises(ArchiveError, match=r"ext/f10: more than 10 entries"):
        extract(many, tmp_path / "d2", max_members=10)
    assert not any((tmp_path / "d1").iterdir()) and not any((tmp_path / "d2").iterdir())


def test_a_link_inside_is_kept_and_a_corrupt_archive_is_refused(tmp_path: Path) -> None:
    good = make_tar(
        tmp_path / "ok.tar.gz",
        [
            ("ext/symphony-extension.toml", MANIFEST),
            special("ext/alias.toml", tarfile.SYMTYPE, "symphony-extension.toml"),
        ],
    )
    (tmp_path / "d").mkdir()
    folder = extract(good, tmp_path / "d")
    assert (folder / "alias.toml").read_bytes() == MANIFEST
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(good.read_bytes()[:40])
    (tmp_path / "e").mkdir()
    with pytest.raises(ArchiveError, match=r"corrupt.tar.gz: not a readable .tar.gz archive"):
        extract(corrupt, tmp_path / "e")
    assert len(sha256_file(good)) == 64
