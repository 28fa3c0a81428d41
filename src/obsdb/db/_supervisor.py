"""Supervisor of one embedded PostgreSQL server: ``python -m obsdb.db._supervisor``.

Spawned by :mod:`obsdb.db.embedded`, one per data dir. It owns the postgres process and
stops it as soon as no obsdb client holds ``clients.lock`` any more, so a killed obsdb
never leaves a server behind. postgres is a direct child with ``PR_SET_PDEATHSIG``, so it
also goes down if this supervisor itself is killed. Standard library only: it must start
fast and must not import psycopg or the rest of obsdb.

Files in the state dir (see :mod:`obsdb.db.embedded` for the protocol):

* ``supervisor.lock`` held (``LOCK_EX``) for this process's lifetime; contains its pid.
* ``clients.lock``    clients hold ``LOCK_SH``; when we get ``LOCK_EX`` nobody is left.
* ``state.json``      written once postgres accepts connections, removed before stopping.
* ``server.log``      our stdout/stderr, inherited by initdb and postgres.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CLIENTS_LOCK = "clients.lock"
START_LOCK = "start.lock"
SUPERVISOR_LOCK = "supervisor.lock"
STATE_FILE = "state.json"
LOG_FILE = "server.log"
PORT = 5432
SOCKET_PARENT = "/tmp"  # unix socket paths are limited to 107 bytes: never under the data dir
_POLL = 0.2
_PR_SET_PDEATHSIG = 1
_STOP_GRACE = 60.0  # fast shutdown writes a checkpoint; give it time before SIGQUIT


def read_state(state_dir: Path) -> dict[str, object] | None:
    """The running server's state, or None if there is none (or it is half written)."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def running_pid(state: Path) -> int | None:
    """The live supervisor's pid (0 if it has not written it yet), None if there is none."""
    try:
        fd = os.open(state / SUPERVISOR_LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        return None  # we got the lock, so nobody holds it (closing the fd releases it)
    finally:
        os.close(fd)


def log_tail(state: Path, lines: int = 30) -> str:
    try:
        with open(state / LOG_FILE, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _write_state(state_dir: Path, state: dict[str, object]) -> None:
    tmp = state_dir / f"{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, state_dir / STATE_FILE)  # atomic: clients never read half a file


def _log(msg: str) -> None:
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
    print(f"{stamp} obsdb supervisor[{os.getpid()}]: {msg}", flush=True)


class _Fail(Exception):
    """An expected failure: logged without a traceback, exit code 1."""


class Supervisor:
    """One supervised postgres; ``run()`` returns when it has been stopped and cleaned up."""

    def __init__(self, data: Path, state: Path, bin_dir: Path, user: str | None, settings: Sequence[str]):
        self.data, self.state, self.bin_dir, self.settings = data, state, bin_dir, list(settings)
        self.pw = pwd.getpwnam(user) if user else None
        self.stop_requested = False
        self.clients_fd = os.open(state / CLIENTS_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork
        self.socket_dir: Path | None = None
        self.pg: subprocess.Popen[bytes] | None = None

    def should_stop(self) -> bool:
        """True once a stop was requested or no client holds clients.lock (we then keep LOCK_EX)."""
        if self.stop_requested:
            return True
        try:
            fcntl.flock(self.clients_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        # Held until we exit: a client arriving now blocks on LOCK_SH until cleanup is done.
        self.stop_requested = True
        return True

    def _child_setup(self) -> Callable[[], None]:
        """preexec_fn: runs after subprocess dropped privileges (which would clear PDEATHSIG)."""
        parent, libc = os.getpid(), self.libc

        def setup() -> None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
            if os.getppid() != parent:  # we died before prctl: nobody would stop the child
                os._exit(1)

        return setup

    def _popen(self, argv: list[str], stdout: int | None = None) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        pw = self.pw
        if pw is not None:
            env.update(HOME=str(self.data), USER=pw.pw_name, LOGNAME=pw.pw_name)
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            env=env,
            cwd="/",
            preexec_fn=self._child_setup(),
            user=pw.pw_uid if pw else None,
            group=pw.pw_gid if pw else None,
            extra_groups=[] if pw else None,
        )

    def initdb(self) -> None:
        """Create the cluster: builtin C.UTF-8 collation, so no OS locale is needed."""
        _log(f"running initdb in {self.data}")
        started = time.monotonic()
        argv = [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        argv += ["-E", "UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-locale"]
        argv += ["--no-instructions"]
        proc = self._popen(argv, stdout=subprocess.DEVNULL)  # progress chatter; errors go to stderr
        if proc.wait() != 0:
            raise _Fail(f"initdb failed with exit code {proc.returncode}")
        _log(f"initdb done in {time.monotonic() - started:.2f} s")

    def wait_stale_postmaster(self, timeout: float = 15.0) -> None:
        """A postmaster of an earlier supervisor may still be shutting down (PDEATHSIG): wait.

        After a reboot the pid in a stale postmaster.pid may belong to an unrelated process,
        which would make postgres refuse to start: then the file is removed (postgres's own
        shared-memory interlock still guards against leftover backends)."""
        pidfile, deadline = self.data / "postmaster.pid", time.monotonic() + timeout
        while True:
            try:
                pid = int(pidfile.read_text().split("\n", 1)[0])
                argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
            except (OSError, ValueError):
                return  # no pid file, or its process is gone: postgres handles that itself
            if not os.path.basename(argv0).startswith(b"postgres"):
                _log(f"removing stale postmaster.pid (pid {pid} is {argv0!r}, not PostgreSQL)")
                pidfile.unlink(missing_ok=True)
                return
            if time.monotonic() > deadline:
                raise _Fail(
                    f"PostgreSQL pid {pid} still runs on {self.data} (see postmaster.pid). Stop it; if "
                    "it is not serving this data dir, delete postmaster.pid."
                )
            time.sleep(0.05)

    def start_postgres(self) -> None:
        self.socket_dir = Path(tempfile.mkdtemp(prefix="obsdb-", dir=SOCKET_PARENT))
        if self.pw is not None:
            os.chown(self.socket_dir, self.pw.pw_uid, self.pw.pw_gid)
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data), "-k", str(self.socket_dir)]
        argv += ["-p", str(PORT)]
        for setting in self.settings:
            argv += ["-c", setting]
        self.pg = self._popen(argv)
        _log(f"postgres pid {self.pg.pid} starting, socket dir {self.socket_dir}")

    def wait_ready(self) -> bool:
        """Wait until postmaster.pid says "ready"; False if we must stop instead."""
        assert self.pg is not None
        pidfile, last_check = self.data / "postmaster.pid", 0.0
        while True:
            if self.pg.poll() is not None:
                raise _Fail(f"postgres exited during start-up with code {self.pg.returncode}")
            try:
                lines = pidfile.read_text().split("\n")
            except OSError:
                lines = []
            if len(lines) > 7 and lines[0] == str(self.pg.pid) and lines[7].strip() == "ready":
                return True
            if time.monotonic() - last_check > _POLL:
                last_check = time.monotonic()
                if self.should_stop():
                    return False
            time.sleep(0.01)

    def serve(self) -> None:
        assert self.pg is not None and self.socket_dir is not None
        state: dict[str, object] = {"pid": os.getpid(), "postmaster_pid": self.pg.pid, "port": PORT}
        state.update(socket_dir=str(self.socket_dir), data_dir=str(self.data))
        _write_state(self.state, state)
        _log("ready")
        while not self.should_stop():
            if self.pg.poll() is not None:
                _log(f"postgres exited on its own with code {self.pg.returncode}")
                return
            time.sleep(_POLL)
        _log("stopping: no obsdb client left, or a stop was requested")

    def on_signal(self, signum: int, _frame: object) -> None:
        self.stop_requested = True

    def cleanup(self) -> None:
        """Remove the state first (no client may join a dying server), then stop postgres."""
        with contextlib.suppress(FileNotFoundError):
            (self.state / STATE_FILE).unlink()
        pg = self.pg
        if pg is not None and pg.poll() is None:
            pg.send_signal(signal.SIGINT)  # fast shutdown: abort sessions, checkpoint, exit
            try:
                pg.wait(_STOP_GRACE)
            except subprocess.TimeoutExpired:
                _log("postgres did not stop in time: immediate shutdown")
                pg.send_signal(signal.SIGQUIT)
                try:
                    pg.wait(10)
                except subprocess.TimeoutExpired:
                    pg.kill()
                    pg.wait()
            _log(f"postgres stopped (exit code {pg.returncode})")
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def run(self) -> int:
        try:
            if not (self.data / "PG_VERSION").exists():
                self.initdb()
            self.wait_stale_postmaster()
            if self.should_stop():
                return 0
            self.start_postgres()
            if self.wait_ready():
                self.serve()
            return 0
        except _Fail as exc:
            _log(f"error: {exc}")
            return 1
        finally:
            self.cleanup()


def _supervisor_lock(state: Path, inherited: int | None) -> int | None:
    """Our lifetime LOCK_EX on supervisor.lock: normally taken by the spawning client and
    inherited (no window in which a second client could think no supervisor exists)."""
    if inherited is None:
        inherited = os.open(state / SUPERVISOR_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fd = inherited
    os.set_inheritable(fd, False)  # postgres must not hold it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a no-op if inherited
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m obsdb.db._supervisor")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--bin", type=Path, required=True)
    parser.add_argument("--user", default=None, help="run initdb/postgres as this user (we are root)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--lock-fd", type=int, default=None, help="inherited, locked supervisor.lock")
    args = parser.parse_args(argv)
    lock_fd = _supervisor_lock(args.state, args.lock_fd)
    if lock_fd is None:
        _log(f"another supervisor already runs for {args.data}")
        return 1
    sup = Supervisor(args.data, args.state, args.bin, args.user, args.set)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, sup.on_signal)
    code = sup.run()
    _log("exiting")
    os.close(lock_fd)  # before clients.lock (released at exit): a waiting client then spawns anew
    return code


if __name__ == "__main__":
    sys.exit(main())
