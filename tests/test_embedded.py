"""The embedded PostgreSQL lifecycle, with real processes: start, reuse, sharing, no orphans."""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from obsdb.db import _supervisor as sup
from obsdb.db import embedded
from obsdb.errors import EmbeddedServerError

pytestmark = pytest.mark.db
IS_ROOT = os.geteuid() == 0
root_only = pytest.mark.skipif(not IS_ROOT, reason="the server-user and /var/lib fallback need root")

CLIENT = """
import sys, time
from pathlib import Path
from obsdb.db.embedded import acquire
server = acquire(Path(sys.argv[1]))
print("ready", server.conninfo(), flush=True)
time.sleep(600)
"""

Spawn = Callable[[Path], "subprocess.Popen[str]"]


def _real(data_dir: Path) -> Path:
    return data_dir.resolve() if data_dir.is_symlink() else data_dir


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def server_pids(data_dir: Path) -> list[int]:
    """Live processes of that data dir's server: supervisor, postmaster (by -D), children (by title)."""
    real = str(_real(data_dir)).encode()
    title = f"{embedded._cluster_name(_real(data_dir))}:".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        postmaster = argv[0].endswith(b"/postgres") and real in argv
        supervisor = b"obsdb.db._supervisor" in argv and real in argv
        if postmaster or supervisor or title in b" ".join(argv):
            pids.append(int(entry))
    return [pid for pid in pids if _alive(pid)]


def supervisors(data_dir: Path) -> list[int]:
    pids = server_pids(data_dir)
    return [pid for pid in pids if b"_supervisor" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def gone(data_dir: Path) -> bool:
    return wait_until(lambda: not server_pids(data_dir))


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid for {pid}")


def postmaster_pid(data_dir: Path) -> int:
    return int((_real(data_dir) / "postmaster.pid").read_text().split()[0])


def tcp_listening(pid: int) -> bool:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                    return True
    return False


def log_text(data_dir: Path) -> str:
    return (embedded._state_dir(_real(data_dir)) / sup.LOG_FILE).read_text()


def cleanup(data_dir: Path) -> None:
    """Stop whatever a (failed) test left behind: server, processes, /var/lib fallback."""
    with contextlib.suppress(Exception):
        embedded.stop(data_dir, timeout=20)
    for pid in server_pids(data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    real = _real(data_dir)
    if real.parent.parent == embedded.FALLBACK_ROOT:
        shutil.rmtree(real.parent, ignore_errors=True)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh data dir. As root, under a world-traversable base: pytest's own tmp root is 0700,
    which would send every test to the /var/lib fallback (tested on its own below)."""
    base = Path(tempfile.mkdtemp(prefix="obsdb-test-")) if IS_ROOT else tmp_path
    base.chmod(0o755)
    path = base / "pgdata"
    yield path
    cleanup(path)
    if base != tmp_path:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start client processes that acquire the server and sleep; all killed at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def start(data_dir: Path) -> subprocess.Popen[str]:
        argv = [sys.executable, "-c", CLIENT, str(data_dir)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def ready(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """Wait for the client's "ready <conninfo>" line; return the conninfo."""
    assert proc.stdout is not None and proc.stderr is not None
    readable, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if readable else ""
    if not line.startswith("ready "):
        proc.kill()
        pytest.fail(f"client did not get ready: {line!r}\n{proc.stderr.read()}")
    return line.split()[1]


def test_start_connects_over_a_private_socket_only(data_dir: Path) -> None:
    server = embedded.acquire(data_dir)
    try:
        assert embedded.acquire(data_dir) is server  # idempotent within a process
        with psycopg.connect(server.conninfo()) as conn:
            version = conn.execute("SELECT version()").fetchone()
            listen = conn.execute("SHOW listen_addresses").fetchone()
        assert version is not None and "PostgreSQL 18" in version[0]
        assert listen == ("",)
        assert str(server.socket_dir).startswith("/tmp/obsdb-")
        assert stat.S_IMODE(server.socket_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert not tcp_listening(postmaster_pid(data_dir))
        server.ensure_database("observer")
        server.ensure_database("observer")  # idempotent
        with psycopg.connect(server.conninfo("observer")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("observer",)
    finally:
        server.release()
    assert gone(data_dir)
    assert not server.socket_dir.exists()
    assert sup.read_state(embedded._state_dir(data_dir)) is None


def test_restart_reuses_the_data_dir(data_dir: Path) -> None:
    server = embedded.acquire(data_dir)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    before = (data_dir / "PG_VERSION").stat()
    server.release()
    assert gone(data_dir)
    first_run = len(log_text(data_dir))
    again = embedded.acquire(data_dir)
    try:
        assert again is not server
        with psycopg.connect(again.conninfo()) as conn:
            assert conn.execute("SELECT x FROM kept").fetchall() == [("still here",)]
        after = (data_dir / "PG_VERSION").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        # A quick restart, told by what it did rather than by a clock: no initdb, and postgres found
        # the cluster shut down cleanly (the last stop checkpointed), so it ran no crash recovery.
        restart = log_text(data_dir)[first_run:]
        assert "running initdb" not in restart, restart
        assert "database system was shut down at" in restart, restart
        for slow in ("was interrupted", "automatic recovery", "redo starts", "stale postmaster.pid"):
            assert slow not in restart, restart
    finally:
        again.release()
    assert gone(data_dir)


def test_sigkilled_client_leaves_no_server(data_dir: Path, spawn: Spawn) -> None:
    client = spawn(data_dir)
    ready(client)
    pids = server_pids(data_dir)
    assert len(pids) >= 3  # supervisor, postmaster, its children
    client.send_signal(signal.SIGKILL)
    client.wait()
    assert wait_until(lambda: not any(_alive(pid) for pid in pids) and not server_pids(data_dir))


def test_processes_share_one_server_until_the_last_goes(data_dir: Path, spawn: Spawn) -> None:
    clients = [spawn(data_dir) for _ in range(3)]  # started at once: one initdb, one server
    conninfos = {ready(proc) for proc in clients}
    assert len(conninfos) == 1
    assert log_text(data_dir).count("running initdb") == 1
    assert len(supervisors(data_dir)) == 1
    first, second, third = clients
    for proc in (first, third):
        proc.kill()
        proc.wait()
    time.sleep(1.0)  # several supervisor polls
    with psycopg.connect(conninfos.pop()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    second.kill()
    second.wait()
    assert gone(data_dir)


def test_killed_supervisor_takes_postgres_down_and_acquire_recovers(data_dir: Path) -> None:
    server = embedded.acquire(data_dir)
    state = sup.read_state(embedded._state_dir(data_dir))
    assert state is not None
    postmaster = int(str(state["postmaster_pid"]))
    os.kill(int(str(state["pid"])), signal.SIGKILL)
    assert wait_until(lambda: not _alive(postmaster))  # PR_SET_PDEATHSIG
    assert not server.is_running()
    again = embedded.acquire(data_dir)  # clears the stale state, starts a new server
    try:
        assert again is not server and again.is_running()
        with psycopg.connect(again.conninfo()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        again.release()
    assert gone(data_dir)


def test_killed_postmaster_and_stale_pid_file_recover(data_dir: Path) -> None:
    server = embedded.acquire(data_dir)
    os.kill(postmaster_pid(data_dir), signal.SIGKILL)
    assert wait_until(lambda: not server.is_running())  # the supervisor noticed and exited
    again = embedded.acquire(data_dir)  # crash recovery on the same data
    again.release()
    assert gone(data_dir)
    # After a reboot postmaster.pid may name a pid now used by an unrelated process.
    with subprocess.Popen(["sleep", "60"]) as unrelated:
        try:
            (data_dir / "postmaster.pid").write_text(f"{unrelated.pid}\n")
            third = embedded.acquire(data_dir)
            with psycopg.connect(third.conninfo()) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            third.release()
        finally:
            unrelated.kill()
    assert gone(data_dir)


def test_stop_stops_the_server_now(data_dir: Path, spawn: Spawn) -> None:
    client = spawn(data_dir)
    ready(client)
    embedded.stop(data_dir)
    assert gone(data_dir)
    assert client.poll() is None  # the client itself is not touched


def test_start_failure_is_explained_with_the_log_tail(data_dir: Path) -> None:
    with pytest.raises(EmbeddedServerError, match="failed to start") as info:
        embedded.acquire(data_dir, settings={"shared_buffers": "lots"})
    assert 'invalid value for parameter "shared_buffers"' in str(info.value)
    assert gone(data_dir)
    with pytest.raises(EmbeddedServerError, match="managed by obsdb"):
        embedded.acquire(data_dir, settings={"port": "5433"})


@root_only
def test_as_root_postgres_runs_as_the_obsdb_user(data_dir: Path) -> None:
    server = embedded.acquire(data_dir)
    try:
        obsdb_uid = pwd.getpwnam(embedded.SERVER_USER).pw_uid
        state = sup.read_state(embedded._state_dir(data_dir))
        assert state is not None
        supervisor = int(str(state["pid"]))
        assert uid_of(supervisor) == 0
        postgres = [pid for pid in server_pids(data_dir) if pid != supervisor]
        assert postmaster_pid(data_dir) in postgres
        assert {uid_of(pid) for pid in postgres} == {obsdb_uid}
        assert data_dir.stat().st_uid == obsdb_uid
        assert server.socket_dir.stat().st_uid == obsdb_uid
    finally:
        server.release()
    assert gone(data_dir)
