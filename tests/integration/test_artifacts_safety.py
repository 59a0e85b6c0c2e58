"""The artifact store under concurrency, crashes and damage (SPEC §8: nothing lost).

Real processes share one store; a writer is SIGKILLed in the middle of a large put; blobs are
corrupted and deleted on disk. Afterwards the store must open, ``verify`` must tell the truth
and ``gc`` must clean up.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from engine.pit.artifacts import ArtifactStore, layout
from engine.pit.artifacts.blobs import TEMP_PREFIX

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
SHARED = 40
UNIQUE = 40

_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from engine.pit.artifacts import ArtifactStore, Producer

    root, worker = Path(sys.argv[1]), int(sys.argv[2])
    with ArtifactStore(root) as store:
        while not (root / "go").exists():  # start together, so the puts really overlap
            time.sleep(0.005)
        for i in range({shared}):
            store.put_bytes(f"shared {{i}}".encode(), name=f"shared-{{i}}",
                            producer=Producer(run=f"run-{{worker}}"))
            store.put_bytes(f"unique {{worker}} {{i}}".encode(), tags=[f"w{{worker}}"])
    """
).format(shared=SHARED)

_SLOW_PUT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from engine.pit.artifacts import ArtifactStore

    class Slow:
        def __init__(self):
            self.left = 64
        def read(self, n=-1):
            if not self.left:
                return b""
            self.left -= 1
            time.sleep(0.05)
            return b"x" * (1 << 20)

    with ArtifactStore(Path(sys.argv[1])) as store:
        store.put_stream(Slow(), name="big")
    """
)


def _python(code: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_concurrent_processes_put_same_and_different_content(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ArtifactStore(root).close()  # create the schema once, as the engine would
    procs = [_python(_WRITER, str(root), str(w)) for w in range(WORKERS)]
    time.sleep(0.5)
    (root / "go").touch()
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with ArtifactStore(root) as store:
        assert store.count() == SHARED + WORKERS * UNIQUE
        for i in range(SHARED):
            info = store.info(f"shared-{i}")
            assert store.get_bytes(info.hash) == f"shared {i}".encode()
            assert info.names == (f"shared-{i}@1",)  # same hash again: no new version
            assert {p.run for p in info.producers} == {f"run-{w}" for w in range(WORKERS)}
        for w in range(WORKERS):
            assert len(store.search("", tags=[f"w{w}"], limit=100)) == UNIQUE
        report = store.verify()
        assert report.ok, report.problems
        assert report.orphans == ()
        assert report.checked == store.count()
        assert list(layout.tmp_dir(root).iterdir()) == []


def test_sigkill_during_a_large_put_leaves_a_consistent_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with ArtifactStore(root) as store:
        kept = store.put_bytes(b"written before the crash").hash
    proc = _python(_SLOW_PUT, str(root))
    tmp = layout.tmp_dir(root)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        temps = list(tmp.iterdir())
        if temps and temps[0].stat().st_size >= 4 << 20:
            break
        assert proc.poll() is None, proc.communicate()[1].decode()
        time.sleep(0.02)
    else:
        proc.kill()
        raise AssertionError("the slow put never started writing")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.communicate()

    with ArtifactStore(root) as store:
        report = store.verify()
        assert report.ok and report.orphans == ()
        assert store.count() == 1
        assert store.get_bytes(kept) == b"written before the crash"
        leftovers = list(tmp.iterdir())
        assert len(leftovers) == 1 and leftovers[0].name.startswith(TEMP_PREFIX)
        assert store.gc(tmp_age_s=3600).removed_files == ()  # too young for the default age
        dry = store.gc(dry_run=True, tmp_age_s=0)
        assert dry.removed_files == (str(leftovers[0].relative_to(root)),)
        assert leftovers[0].exists()
        gone = store.gc(tmp_age_s=0)
        assert gone.removed_files == dry.removed_files
        assert gone.freed_bytes >= 4 << 20
        assert list(tmp.iterdir()) == []
        assert store.verify().ok


def test_gc_never_removes_the_temp_file_of_a_live_put(tmp_path: Path) -> None:
    with ArtifactStore(tmp_path / "store") as store:
        release = threading.Event()
        started = threading.Event()

        class Blocking:
            def __init__(self) -> None:
                self.calls = 0

            def read(self, n: int = -1) -> bytes:
                self.calls += 1
                if self.calls == 1:
                    return b"first chunk "
                if self.calls == 2:
                    started.set()
                    release.wait(10)
                    return b"second chunk"
                return b""

        result: list[str] = []
        writer = threading.Thread(
            target=lambda: result.append(store.put_stream(Blocking()).hash)  # type: ignore[arg-type]
        )
        writer.start()
        assert started.wait(10)
        assert store.gc(tmp_age_s=0).removed_files == ()
        release.set()
        writer.join(10)
        assert result == [hashlib.sha256(b"first chunk second chunk").hexdigest()]
        assert store.get_bytes(result[0]) == b"first chunk second chunk"


def test_verify_reports_corrupt_and_missing_blobs_and_gc_removes_orphans(
    tmp_path: Path,
) -> None:
    with ArtifactStore(tmp_path / "store") as store:
        hashes = [store.put_bytes(f"artifact number {i}".encode()).hash for i in range(5)]
        corrupt, missing = hashes[1], hashes[3]
        path = layout.hot_path(store.root, corrupt)
        data = bytearray(path.read_bytes())
        data[3] ^= 0x01
        path.write_bytes(bytes(data))
        layout.hot_path(store.root, missing).unlink()
        stray = layout.hot_path(store.root, "ab" * 32)
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"nobody owns me")

        seen: list[tuple[int, int]] = []
        report = store.verify(progress=lambda done, total: seen.append((done, total)))
        assert not report.ok
        assert {(p.hash, p.problem.split(":")[0]) for p in report.problems} == {
            (corrupt, "corrupt"),
            (missing, "missing"),
        }
        assert report.checked == 5
        assert seen[-1] == (5, 5)
        assert report.orphans == (str(stray.relative_to(store.root)),)

        collected = store.gc()
        assert collected.removed_files == report.orphans
        assert collected.freed_bytes == len(b"nobody owns me")
        assert not stray.exists() and not stray.parent.exists()  # empty shard folders pruned
        assert store.verify().orphans == ()
        # Putting the lost content again repairs the missing blob.
        store.put_bytes(b"artifact number 3")
        assert {p.hash for p in store.verify().problems} == {corrupt}
        assert layout.hot_path(store.root, missing).exists()


def test_gc_running_alongside_puts_from_threads_loses_nothing(tmp_path: Path) -> None:
    with ArtifactStore(tmp_path / "store") as store:
        stop = threading.Event()
        errors: list[BaseException] = []

        def collect() -> None:
            while not stop.is_set():
                try:
                    store.gc(tmp_age_s=0)
                except BaseException as e:  # surfaced by the assertion below
                    errors.append(e)
                    return

        def put(worker: int) -> None:
            try:
                for i in range(60):
                    data = f"item {i % 20} from {worker % 2}".encode()
                    assert store.get_bytes(store.put_bytes(data).hash) == data
            except BaseException as e:
                errors.append(e)

        collector = threading.Thread(target=collect)
        collector.start()
        writers = [threading.Thread(target=put, args=(w,)) for w in range(3)]
        for t in writers:
            t.start()
        for t in writers:
            t.join(30)
        stop.set()
        collector.join(30)
        assert errors == []
        assert store.count() == 40
        report = store.verify()
        assert report.ok and report.orphans == ()


_CLOSER = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from engine.pit.artifacts import ArtifactStore, PutItem
    from engine.types.errors import ArtifactError

    store = ArtifactStore(Path(sys.argv[1]))
    store.put_many(
        PutItem(data=f"alpha beta {i} gamma {i % 7}".encode(), tags=("t",)) for i in range(2000)
    )
    errors = []

    def worker(k):
        try:
            while True:
                store.search("alpha gamma", limit=50)
                store.search("beta", tags=["t"])
                store.count()
                store.put_bytes(f"w{k} {time.time()}".encode())
        except ArtifactError as e:
            if "closed" not in str(e):
                errors.append(repr(e))
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    store.close()
    for t in threads:
        t.join()
    print(errors)
    sys.exit(1 if errors else 0)
    """
)


def test_closing_a_store_that_threads_are_using_never_crashes(tmp_path: Path) -> None:
    # Closing every thread's connection under a running statement used to segfault (rc -11).
    for attempt in range(2):
        result = subprocess.run(
            [sys.executable, "-c", _CLOSER, str(tmp_path / f"store{attempt}")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
