"""The migration runner's statement splitter: every shipped migration splits into statements that
re-join to the file, and what can hide a ';' does not split. That each statement parses and runs
alone is what every init test proves (the runner sends them one by one)."""

from __future__ import annotations

import re

import pytest

from obsdb.db import schema
from obsdb.db.splitsql import split_statements


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("migration", schema.available(), ids=lambda m: m.filename)
def test_shipped_migrations_rejoin_to_the_file(migration: schema.Migration) -> None:
    parts = split_statements(migration.sql)
    assert parts
    # Each statement ends at a top-level ';'; the file's last chunk may be a trailing comment.
    joined = ";".join(parts)
    assert _squash(migration.sql).startswith(_squash(joined))
    rest = _squash(migration.sql)[len(_squash(joined)):]
    assert rest.startswith(";") or rest == ""
    assert split_statements(rest.lstrip(";")) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
    ("SELECT 'a;b'; SELECT 2", ["SELECT 'a;b'", "SELECT 2"]),
    ("SELECT 'it''s;'; SELECT 2", ["SELECT 'it''s;'", "SELECT 2"]),
    ("SELECT E'\\';'; SELECT 2", ["SELECT E'\\';'", "SELECT 2"]),
    ('SELECT 1 AS "a;b"; SELECT 2', ['SELECT 1 AS "a;b"', "SELECT 2"]),
    ("DO $$ BEGIN PERFORM 1; END $$; SELECT 2", ["DO $$ BEGIN PERFORM 1; END $$", "SELECT 2"]),
    ("DO $x$ BEGIN PERFORM '$$;'; END $x$; SELECT 2", ["DO $x$ BEGIN PERFORM '$$;'; END $x$", "SELECT 2"]),
    ("-- a; comment\nSELECT 1; /* b; /* nested; */ c; */ SELECT 2", ["-- a; comment\nSELECT 1",
                                                                     "/* b; /* nested; */ c; */ SELECT 2"]),
    ("SELECT $1; SELECT a$b$c", ["SELECT $1", "SELECT a$b$c"]),
    ("SELECT 1;\n-- only a comment\n", ["SELECT 1"]),
    ("  \n", []),
])
def test_split_respects_quotes_and_comments(text: str, expected: list[str]) -> None:
    assert split_statements(text) == expected
