"""Security promises: the password never shows; hostile input is stored as data or rejected, never
run; no SQL text is built from input; obsdb runs as an ordinary role (the README's statements)."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from obsdb import api
from tests.helpers import ROOT, obsdb_env, query, run_obsdb, settings_for, with_db, write_lines
from tests.test_load_once import tick

SRC = ROOT / "src" / "obsdb"


def _scram(password: str) -> str:
    """A SCRAM-SHA-256 verifier: the role gets its password without the plain text ever reaching
    the server (so a server log cannot hold it because of this test)."""
    salt, rounds = os.urandom(16), 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    client, server = (hmac.new(salted, k, "sha256").digest() for k in (b"Client Key", b"Server Key"))
    b64 = [base64.b64encode(b).decode() for b in (salt, hashlib.sha256(client).digest(), server)]
    return f"SCRAM-SHA-256${rounds}:{b64[0]}${b64[1]}:{b64[2]}"


def _admin(admin: str, *statements: str | sql.Composable, dbname: str | None = None) -> None:
    with psycopg.connect(with_db(admin, dbname) if dbname else admin, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def _as(admin: str, user: str, dbname: str) -> str:
    """The server under test (TCP or the embedded Unix socket), as another role."""
    params = {k: v for k, v in conninfo_to_dict(admin).items() if k != "password"}
    return make_conninfo(**{**params, "user": user, "dbname": dbname})


def _drop(admin: str, dbname: str, *roles: str) -> None:
    _admin(admin, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)),
           *(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r)) for r in roles))


@pytest.fixture
def sentinel_role(admin_conninfo: str) -> Iterator[tuple[str, str, str]]:
    """(role, password, database): a LOGIN role, NOCREATEDB, owning a fresh database."""
    role, password = f"obsdb_sec_{uuid.uuid4().hex[:10]}", f"S3ntinel-pw-{uuid.uuid4()}"
    dbname = role + "_db"
    _admin(admin_conninfo,
           sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
               sql.Identifier(role), sql.Literal(_scram(password))),
           sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(role)))
    try:
        yield role, password, dbname
    finally:
        _drop(admin_conninfo, dbname, role)


def _server_log(admin: str) -> Path | None:
    """The embedded test server's log (the local PostgreSQL's log is not ours to read)."""
    if os.environ.get("DATABASE_URL") or not str(conninfo_to_dict(admin).get("host", "")).startswith("/"):
        return None
    from obsdb.db.embedded import acquire  # the same object conftest holds: no new client, no release

    return acquire(Path(os.environ.get("OBSDB_TEST_PGDATA", ROOT / ".obsdb" / "test-pgdata"))).log_file


def _squash(text: str) -> str:
    """rich wraps long lines at the console width: compare text with all white space removed."""
    return re.sub(r"\s+", "", text)


def _leaks(text: str, secrets: list[str]) -> list[str]:
    squashed = _squash(text)
    forms = [f for s in secrets for f in (s, s.encode().hex(), quote(s, safe=""))]
    return [f for f in forms if f in text or f in squashed]


@pytest.mark.db
def test_the_password_never_appears(admin_conninfo: str, sentinel_role: tuple[str, str, str],
                                    tmp_path: Path) -> None:
    role, password, dbname = sentinel_role
    wrong = f"S3ntinel-wrong-{uuid.uuid4()}"
    params = conninfo_to_dict(admin_conninfo)
    host, port = str(params.get("host") or "localhost"), str(params.get("port") or 5432)
    env = obsdb_env(None, DB_HOST=host, DB_PORT=port, DB_USER=role, DB_PASSWORD=password, DB_NAME=dbname)
    url = f"postgresql://{role}:{password}@/{dbname}?host={quote(host, safe='')}&port={port}"
    naive = dict(tick(3), timestamp="2026-01-30T10:00:03")  # no offset: rejected
    first = write_lines(tmp_path / "a" / "t.jsonl", tick(1), tick(2), naive, tick(4))
    second = write_lines(tmp_path / "b" / "t.jsonl", tick(5), "not json", tick(6))
    log = _server_log(admin_conninfo)
    log_start = log.stat().st_size if log and log.exists() else 0
    outputs: list[str] = []

    def run(*args: str, env: dict[str, str] = env, codes: tuple[int, ...] = (0,)) -> str:
        r = run_obsdb(*args, env=env, cwd=tmp_path, timeout=120)  # cwd: no stray .env file
        assert r.returncode in codes, (args, r.returncode, r.stdout[-1500:], r.stderr[-1500:])
        outputs.append(f"$ obsdb {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r.stdout + r.stderr

    assert "CREATE TABLE" in run("init", "--plan")
    run("init")
    run("init", "--plan", "--json")
    assert json.loads(run("migrate", "--json", "--no-derive", str(first)))["rejected"] == 1
    run("migrate", str(second))
    run("derive")
    run("derive", "--json")
    run("status")
    run("status", "--json")
    run("rejects")
    run("rejects", "--json")
    assert "***" in run("db", "url") or host.startswith("/")  # a socket URL carries no password mark
    run("db", "url", env=obsdb_env(url))
    run("status", "--json", env=obsdb_env(url))
    # The embedded server and the local PostgreSQL trust local connections: a wrong password may
    # still connect (0); where passwords are checked it must fail as unreachable (3). Either way the
    # output is checked below, and the scrubbing of driver messages by the `%` case just after.
    run("status", env={**env, "DB_PASSWORD": wrong}, codes=(0, 3))
    run("db", "url", env=obsdb_env(url.replace(password, wrong + "%")), codes=(2,))  # libpq quotes it
    assert "cannotreachPostgreSQL" in _squash(run("status", env={**env, "DB_PORT": "1"}, codes=(3,)))
    assert "CREATEDATABASE" in _squash(run("init", env={**env, "DB_NAME": dbname + "_missing"}, codes=(2,)))
    leaks = [(o[:120], _leaks(o, [password, wrong])) for o in outputs if _leaks(o, [password, wrong])]
    assert not leaks

    # What obsdb wrote in the database: runs (arguments, totals), ledger, rejects, every table.
    db = with_db(admin_conninfo, dbname)
    assert query(db, "SELECT count(*) FROM obsdb_load_runs")[0][0] >= 3
    assert query(db, "SELECT count(*) FROM obsdb_rejects")[0][0] == 2
    with psycopg.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            rows = conn.execute(sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))).fetchall()
            assert not _leaks("\n".join(r[0] for r in rows), [password, wrong]), table
    if log is not None:
        with open(log, "rb") as f:
            f.seek(log_start if log.stat().st_size >= log_start else 0)
            assert not _leaks(f.read().decode(errors="replace"), [password, wrong])


HOSTILE = ["'; DROP TABLE scalp_ticks; --", '"); DELETE FROM obsdb_rejects; --', "삼성전자 ✓ \u202e 😀 ﷽",
           "[/red][bold]x %s %(x)s {x} \\x00 $1 \\", "$(touch /tmp/pwned) `touch /tmp/pwned`", "y" * 100_000]
MAYBE = ["a\u0000b", "\ud800", os.urandom(8000).hex()]  # NUL, a lone surrogate, a key too big to index
FILE_NAMES = ["it's \"quoted\"; x.jsonl", "new\nline.jsonl", "$(touch /tmp/pwned).jsonl",
              "`touch pwned` & ; | > x.jsonl", "[/red]markup[bold].jsonl", "spa ce, 'q'.jsonl"]


def _hostile_line(file_no: int, second: int, value: str) -> str:
    record = dict(tick(second, symbol=value), session_id=value, source=value,
                  timestamp=f"2026-01-30T10:{10 + file_no:02d}:{second:02d}.250000+09:00")
    return json.dumps(record)  # ensure_ascii: the lone surrogate is written as the escape \ud800


@pytest.mark.db
def test_hostile_values_are_data_never_code(db: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    pwned = Path("/tmp/pwned")
    before = pwned.stat().st_mtime_ns if pwned.exists() else None
    root, values = tmp_path / "in", HOSTILE + MAYBE
    paths = [write_lines(root / name, *(_hostile_line(i, s, v) for s, v in enumerate(values, 1)), tick(59))
             for i, name in enumerate(FILE_NAMES)]
    r = run_obsdb("migrate", str(root), env=cli_env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_obsdb("migrate", "--json", str(root), *map(str, paths[:2]), env=cli_env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert {f["path"] for f in json.loads(r.stdout)["per_file"]} == {str(p) for p in paths}
    for args in (("rejects",), ("rejects", "--json"), ("status",)):
        r = run_obsdb(*args, env=cli_env, cwd=tmp_path, timeout=120)
        assert r.returncode == 0, (args, r.stderr[-2000:])

    assert all(query(db, "SELECT to_regclass(%s) IS NOT NULL", (t,))[0][0]
               for t in ("scalp_ticks", "obsdb_rejects", "obsdb_ingest_files"))
    stored = set(query(db, "SELECT symbol, session_id, source, src_line, first_path FROM scalp_ticks "
                           "JOIN obsdb_ingest_files f ON f.file_id = src_file_id"))
    rejected = {(line, path): reason for line, path, reason in query(
        db, "SELECT line_no, path, reason FROM obsdb_rejects")}
    for path in map(str, paths):
        for line_no, value in enumerate(values, 1):
            kept = (value, value, value, line_no, path) in stored
            assert kept != bool(rejected.get((line_no, path))), (path, line_no, value[:40])
            assert kept or value in MAYBE, (path, value[:40], rejected.get((line_no, path)))
    assert {r[0] for r in query(db, "SELECT first_path FROM obsdb_ingest_files")} == {str(p) for p in paths}
    assert {r[0] for r in query(db, "SELECT path FROM obsdb_ingest_paths")} == {str(p) for p in paths}
    assert (pwned.stat().st_mtime_ns if pwned.exists() else None) == before, "a file name was executed"
    assert not (tmp_path / "pwned").exists()


# --- no SQL text is built from input (static) -------------------------------------------------------
SQL_CALLS = {"execute", "executemany", "copy"}


def _is_sql_object(node: ast.expr) -> bool:
    """psycopg.sql.SQL(...) / sql.Composed and their .format/.join: composition, the safe way."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"format", "join"}:
        return _is_sql_object(node.func.value)
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        return name in {"SQL", "Composed", "Identifier", "Literal", "Placeholder"}
    return False


def _static(node: ast.expr, names: dict[str, list[ast.expr]], args: set[str]) -> bool:
    """Text fixed in the package: a literal, a queries constant, a packaged .sql file, or a
    LiteralString parameter (mypy --strict makes the callers pass literals)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | bytes)
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name) and node.value.id in {"q", "queries"} and node.attr.isupper()
    if isinstance(node, ast.Call):
        return getattr(node.func, "id", "") == "load_sql" and all(isinstance(a, ast.Constant) for a in node.args)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _static(node.left, names, args) and _static(node.right, names, args)
    if isinstance(node, ast.Name):
        return node.id in args or (node.id in names and all(_static(v, names, args) for v in names[node.id]))
    return False


def _bad_query(node: ast.expr, names: dict[str, list[ast.expr]], args: set[str], depth: int = 0) -> str | None:
    if isinstance(node, ast.JoinedStr):
        return "f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "%-formatting"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and not _static(node, names, args):
        return "+ concatenation of non-constant text"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"format", "join"}
            and not _is_sql_object(node)):
        return f"str.{node.func.attr}()"
    if isinstance(node, ast.Name) and depth < 5:
        for value in names.get(node.id, []):
            if why := _bad_query(value, names, args, depth + 1):
                return f"{node.id} = {why}"
    return None


def test_no_sql_text_is_built_from_input() -> None:
    problems: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            names: dict[str, list[ast.expr]] = {}
            for n in ast.walk(func):
                if isinstance(n, ast.Assign | ast.AnnAssign) and n.value is not None:
                    for target in n.targets if isinstance(n, ast.Assign) else [n.target]:
                        if isinstance(target, ast.Name):
                            names.setdefault(target.id, []).append(n.value)
            literal_args = {a.arg for a in func.args.args + func.args.kwonlyargs
                            if a.annotation is not None and "LiteralString" in ast.unparse(a.annotation)}
            for call in ast.walk(func):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in SQL_CALLS and call.args
                        and (why := _bad_query(call.args[0], names, literal_args))):
                    problems.append(f"{path.relative_to(ROOT)}:{call.lineno}: {why}")
    assert not problems, problems
    # The checker itself catches what it must (so a silent pass means something).
    bad = ("c.execute(f'SELECT {x}')", "c.execute('SELECT %s' % x)", "c.execute('SELECT ' + x)",
           "c.execute('SELECT {}'.format(x))", "c.copy(q.COPY.format(t=x))", "s = f'{x}'\nc.execute(s)")
    for snippet in bad:
        tree = ast.parse("def f(c, x):\n" + "\n".join("    " + ln for ln in snippet.splitlines()))
        func = tree.body[0]
        names = {t.id: [n.value] for n in ast.walk(func) if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)}
        calls = [c for c in ast.walk(func) if isinstance(c, ast.Call) and getattr(c.func, "attr", "") in SQL_CALLS]
        assert _bad_query(calls[0].args[0], names, set()), snippet
    good = ast.parse("c.execute(sql.SQL(q.COUNT_ROWS).format(table=sql.Identifier(x)))", mode="eval").body
    assert isinstance(good, ast.Call) and _bad_query(good.args[0], {}, set()) is None


def test_sql_files_use_only_driver_placeholders() -> None:
    """Packaged SQL run with values: only %s / %(name)s (and %%); {name} only when composed by sql.SQL."""
    files = [p for p in SRC.rglob("*.sql") if "migrations" not in p.parts]  # migrations take no values
    composed: set[str] = set()
    for module in SRC.rglob("*.py"):
        code = module.read_text(encoding="utf-8")
        composed |= set(re.findall(r"sql\.SQL\(load_sql\(\"(\w+)\"\)\)", code))
        if re.search(r"sql\.SQL\(load_sql\(\w+\)\)", code):  # composed by a helper taking the name
            composed |= {p.stem for p in files if f'"{p.stem}"' in code}
    assert len(files) >= 10
    for path in files:
        text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        if path.stem.endswith("_shard"):  # a run_command_on_shards template: %1$s is Citus's, for the shard
            assert path.stem in composed, path.name  # sent as a value, never run by the driver itself
            text = text.replace("%1$s", "")
        stray = re.findall(r"%(?!\(\w+\)[sbt]|[sbt%])\S{0,8}", text.replace("%%", ""))
        assert not stray, (path.name, stray)
        fields = re.findall(r"\{[A-Za-z_]\w*\}", text)
        assert not fields or path.stem in composed, (path.name, fields)


# --- least privileges: the README's statements, executed -----------------------------------------
def _readme_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Least privileges\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def _run_block(admin: str, block: str, names: dict[str, str]) -> None:
    """Execute a README block as psql would, names replaced; `\\connect db` switches database."""
    for old, new in names.items():
        block = re.sub(rf"\b{old}\b", new, block)
    conn, pending = psycopg.connect(admin, autocommit=True), ""
    try:
        for line in block.splitlines():
            if line.startswith("\\connect "):
                conn.close()
                conn = psycopg.connect(with_db(admin, line.split()[1]), autocommit=True)
                continue
            pending += line + "\n"
            if line.rstrip().endswith(";"):
                conn.execute(pending)  # type: ignore[arg-type]
                pending = ""
        assert not pending.strip(), pending
    finally:
        conn.close()


@pytest.mark.db
def test_readme_roles_run_obsdb_without_superuser(admin_conninfo: str, tmp_path: Path) -> None:
    owner_block, loader_block = _readme_blocks()
    assert all(w in owner_block for w in ("LOGIN", "NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE"))
    assert "obsdb_ensure_tick_partitions" in loader_block
    suffix = uuid.uuid4().hex[:10]
    names = {"obsdb_owner": f"obsdb_own_{suffix}", "obsdb_loader": f"obsdb_ld_{suffix}",
             "observer": f"obsdb_lp_{suffix}", "change-me": f"pw-{suffix}"}
    owner, loader, dbname = names["obsdb_owner"], names["obsdb_loader"], names["observer"]
    try:
        _run_block(admin_conninfo, owner_block, names)
        as_owner = settings_for(_as(admin_conninfo, owner, dbname))
        assert api.init(settings=as_owner).applied
        report = api.migrate([write_lines(tmp_path / "a.jsonl", *(tick(s) for s in range(1, 30)))],
                             settings=as_owner)
        assert report.total("loaded") == 29 and report.derive and report.derive["bars_1m"]["written"] >= 1
        api.derive(settings=as_owner)

        _run_block(admin_conninfo, loader_block, names)
        as_loader = settings_for(_as(admin_conninfo, loader, dbname))
        later = [dict(tick(s, symbol="000660"), timestamp=f"2026-06-01T10:00:{s:02d}+09:00") for s in range(1, 9)]
        report = api.migrate([write_lines(tmp_path / "b.jsonl", *later)], settings=as_loader)
        assert report.total("loaded") == 8 and report.derive is not None
        api.derive(settings=as_loader)
        db = with_db(admin_conninfo, dbname)
        assert query(db, "SELECT count(*) FROM scalp_1m_bars WHERE symbol = '000660'")[0][0] >= 1
        roles = query(db, "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                          "WHERE rolname IN (%s, %s) ORDER BY rolname", (loader, owner))
        assert [r[1:] for r in roles] == [(False, False, False)] * 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # load-only: no DDL
            _admin(_as(admin_conninfo, loader, dbname), "DROP TABLE scalp_ticks")
    finally:
        _drop(admin_conninfo, dbname, loader, owner)
