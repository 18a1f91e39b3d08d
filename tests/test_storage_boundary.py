"""SQL lives in ops/storage/ and nowhere else.

Every module of ops/ (outside ops/storage/), collector/, pages/ and streamlit_app.py is
parsed with `ast`; a string (or f-string) that reads as an SQL statement, a call of
`.execute(...)`, or a reach into a Store's connection is reported with its line. The
checker is proved on a planted module, so a regex that stopped matching would not pass
quietly.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("ops", "collector", "pages", "streamlit_app.py")
STORAGE = ROOT / "ops" / "storage"

# Upper-case keywords in the shape of a statement, not prose: "SELECT ... FROM",
# "INSERT INTO", "UPDATE t SET", "PRAGMA name", a lone "COMMIT" and so on.
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b"
    r"|^\s*SELECT\s+[\w*(]"
    r"|^\s*WITH\s+(RECURSIVE\s+)?\w+(\(\w+(,\s*\w+)*\))?\s+AS\b"
    r"|\bINSERT\s+(OR\s+[A-Z]+\s+)?INTO\b"
    r"|\bREPLACE\s+INTO\b"
    r"|\bUPDATE\s+\S+\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\b(CREATE|ALTER|DROP)\s+(TEMP\s+)?(TABLE|(UNIQUE\s+)?INDEX|VIEW|TRIGGER)\b"
    r"|\bPRAGMA\s+[a-z_]+"
    r"|\bBEGIN(\s+(IMMEDIATE|DEFERRED|EXCLUSIVE))?(\s+TRANSACTION)?\s*;?\s*$"
    r"|\bBEGIN\s+(IMMEDIATE|DEFERRED|EXCLUSIVE)\b"
    r"|^\s*(COMMIT|END|ROLLBACK)(\s+TRANSACTION)?\s*;?\s*$"
    r"|\b(SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO)\s+[\w{\"]"
    r"|^\s*(VACUUM|ATTACH|DETACH)\b",
    re.DOTALL | re.MULTILINE)

# Calls that run SQL, whatever the object: code above storage calls Store methods.
EXECUTE = {"execute", "executemany", "executescript", "iterdump"}
# A Store's connection and its package-internal accessors.
CONNECTION = {"conn", "_conn", "_connections", "_execute", "_rows"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of docstring nodes: prose about SQL is allowed, statements are not."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef |
                      ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _text(node: ast.JoinedStr) -> str:
    """An f-string with each placeholder as {}: the SQL around them is what counts."""
    return "".join(part.value if isinstance(part, ast.Constant) else "{}"
                   for part in node.values)


def _named(node: ast.expr) -> str:
    """The last name of an expression (`self.store` -> store)."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def violations(source: str, where: str) -> Iterator[str]:
    """`where:line: what` for each SQL statement or connection use in `source`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in skip:
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = _text(node)
        if text is not None:
            match = SQL.search(text)
            if match:
                yield f"{where}:{line}: SQL {match.group(0).strip()[:40]!r}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in EXECUTE:
            yield f"{where}:{line}: call of .{node.func.attr}()"
        if isinstance(node, ast.Attribute) and node.attr in CONNECTION:
            yield f"{where}:{line}: use of .{node.attr}"
        if isinstance(node, ast.Attribute) and node.attr == "db" \
                and _named(node.value).endswith("store"):
            yield f"{where}:{line}: use of {_named(node.value)}.db"
        if isinstance(node, ast.Attribute) and node.attr == "connect" \
                and _named(node.value) == "sqlite3":
            yield f"{where}:{line}: sqlite3.connect outside ops/storage"
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names]
            for module in modules:
                if module.split(".")[0] == "sqlite_utils":
                    yield f"{where}:{line}: import of {module}"
                if module.startswith("ops.storage.") and module.split(".")[2] in (
                        "connection", "schema", "series"):
                    yield f"{where}:{line}: import of the storage internals {module}"


def files(root: Path = ROOT) -> list[Path]:
    found = []
    for name in SCANNED:
        path = root / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*.py"))
        found += [p for p in candidates if STORAGE not in p.parents]
    return found


def scan(paths: list[Path]) -> list[str]:
    reported = []
    for path in paths:
        where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        reported += dict.fromkeys(violations(path.read_text(), where))  # once per finding
    return reported


def test_no_sql_outside_the_storage_package() -> None:
    paths = files()
    assert len(paths) > 40, "the scan found the modules"
    assert ROOT / "streamlit_app.py" in paths and ROOT / "collector" / "loop.py" in paths
    assert not any(STORAGE in p.parents for p in paths)
    assert scan(paths) == []


PLANTED = '''
    """A module that talks to SQLite itself. Prose such as SELECT ... FROM is fine here."""
    import sqlite3
    from sqlite_utils import Database
    from ops.storage.connection import connect


    def count(store, table):
        return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


    def add(cursor, ts):
        cursor.execute("INSERT INTO events (ts, source, kind) "
                       "VALUES (?, 'x', 'y')", (ts,))


    def begin(store):
        store._execute("BEGIN IMMEDIATE")


    def tidy(conn):
        sql = "DELETE FROM samples WHERE ts < ?"
        other = "PRAGMA wal_checkpoint(TRUNCATE)"
        conn.commit_all("COMMIT")
        return sqlite3.connect("x.db"), sql, other, store.db


    def friendly():
        """Returns text that merely mentions UPDATE and SELECT."""
        return ["Select a backup", "UPDATE available", "DELETE", "Begin restore", "GET"]
'''


def test_the_checker_reports_sql_in_a_planted_module(tmp_path: Path) -> None:
    module = tmp_path / "planted.py"
    module.write_text(textwrap.dedent(PLANTED))
    reported = scan([module])
    lines = {int(entry.split(":")[1]) for entry in reported}
    text = "\n".join(reported)
    assert "import of sqlite_utils" in text
    assert "import of the storage internals ops.storage.connection" in text
    assert "use of .conn" in text and "call of .execute()" in text
    assert "SQL 'SELECT count(*) FROM'" in text, "an f-string's SQL is found"
    assert "SQL 'INSERT INTO'" in text, "implicitly joined strings are found"
    assert "use of ._execute" in text and "SQL 'BEGIN IMMEDIATE'" in text
    assert "SQL 'DELETE FROM'" in text and "SQL 'PRAGMA wal_checkpoint'" in text
    assert "SQL 'COMMIT'" in text
    assert "sqlite3.connect outside ops/storage" in text and "use of store.db" in text
    assert lines == {4, 5, 9, 13, 18, 22, 23, 24, 25}, text
    assert not any(":2:" in entry or ":30:" in entry for entry in reported), \
        "docstrings and plain upper-case words are not SQL"


def test_the_checker_sees_the_sql_the_storage_package_holds() -> None:
    """Scanned without its exemption, the storage package is full of findings: the
    patterns match the statements this project really writes."""
    paths = sorted(STORAGE.glob("*.py"))
    text = "\n".join(scan(paths))
    for statement in ("SELECT", "INSERT OR REPLACE INTO", "UPDATE jobs SET", "DELETE FROM",
                      "CREATE TABLE", "ALTER TABLE", "PRAGMA", "BEGIN IMMEDIATE",
                      "SAVEPOINT", "COMMIT", "WITH RECURSIVE"):
        assert f"SQL '{statement}" in text, statement
    assert "call of .execute()" in text
