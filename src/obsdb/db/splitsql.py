"""Split a SQL script into statements, the way psql does, for the migration runner.

Citus forwards some DDL to the workers with the statement's own text; a multi-statement string is
refused there ("cannot insert multiple commands into a prepared statement"), so migrations are sent
one statement at a time. The scanner knows what can hide a ``;``: '...' and E'...' strings, "..."
identifiers, $$ / $tag$ bodies, -- and (nested) /* */ comments. Parentheses are not tracked: a
``;`` outside quotes always ends a statement in the SQL obsdb ships (no BEGIN ATOMIC bodies).
"""

from __future__ import annotations

import re

# A dollar-quote tag: $$ or $name$ (a name does not start with a digit, so $1 is a parameter).
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")


def _skip_block_comment(text: str, i: int) -> int:
    depth = 0
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return i


def _skip_quoted(text: str, i: int, quote: str, backslash: bool) -> int:
    """``i`` is at the opening quote; returns the index after the closing one ('' and "" escape)."""
    i += 1
    while i < len(text):
        ch = text[i]
        if backslash and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if text.startswith(quote, i + 1):
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _skip_token(text: str, i: int) -> int:
    """If a string, identifier, comment or dollar body starts at ``i``, the index after it; else i."""
    ch = text[i]
    if text.startswith("--", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end + 1
    if text.startswith("/*", i):
        return _skip_block_comment(text, i)
    if ch in "'\"":
        escaped = ch == "'" and i > 0 and text[i - 1] in "eE" and not _word_char(text, i - 2)
        return _skip_quoted(text, i, ch, escaped)
    if ch == "$" and not _word_char(text, i - 1):
        match = _DOLLAR_TAG.match(text, i)
        if match:
            end = text.find(match[0], match.end())
            return len(text) if end < 0 else end + len(match[0])
    return i


def _word_char(text: str, i: int) -> bool:
    return i >= 0 and (text[i].isalnum() or text[i] in "_$")


def _has_code(chunk: str) -> bool:
    """True unless the chunk is only whitespace and comments."""
    i = 0
    while i < len(chunk):
        if chunk[i].isspace():
            i += 1
        elif chunk.startswith("--", i) or chunk.startswith("/*", i):
            i = _skip_token(chunk, i)
        else:
            return True
    return False


def split_statements(text: str) -> list[str]:
    """The statements of ``text``, each with its leading comments and without the final ``;``.

    Chunks that hold only comments and whitespace are dropped (a trailing comment is no statement).
    """
    statements: list[str] = []
    start = i = 0
    while i < len(text):
        after = _skip_token(text, i)
        if after != i:
            i = after
            continue
        if text[i] == ";":
            chunk = text[start:i]
            if _has_code(chunk):
                statements.append(chunk.strip())
            start = i + 1
        i += 1
    tail = text[start:]
    if _has_code(tail):
        statements.append(tail.strip())
    return statements
