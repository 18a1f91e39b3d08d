"""SQL lives in ops/storage/ and nowhere else.

Every module of ops/ (outside ops/storage/), collector/, pages/ and streamlit_app.py is
parsed with `ast`; a string (or f-string) that reads as an SQL statement, a call of
`.execute(...)`, or a reach into a Store's connection is reported with its line.

Tests and benchmarks are held to less: they reach the file through Store methods too,
never through a Store's connection or its package-internal accessors, but a test may
run a statement of its own to cause a fault (dropping a table under the collector) or
open its own connection to prove something about the file (what another process sees,
a table made by hand), with a comment saying why: `sqlite3.connect` in tests/ needs
that comment on its line or just above, and benchmarks never open one.

The checker is proved on planted modules, so a regex that stopped matching would not
pass quietly.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("ops", "collector", "pages", "streamlit_app.py")
STORAGE = ROOT / "ops" / "storage"
TESTS, BENCH = ROOT / "tests", ROOT / "bench"

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


def _explained(source: str) -> set[int]:
    """Lines a comment explains: a line with a comment, and the line just below a line
    that is nothing but a comment."""
    lines = source.splitlines()
    commented = {token.start[0] for token in
                 tokenize.generate_tokens(io.StringIO(source).readline)
                 if token.type == tokenize.COMMENT}
    return commented | {number + 1 for number in commented
                        if lines[number - 1].lstrip().startswith("#")}


def _reaches_into_a_store(node: ast.AST, where: str) -> Iterator[str]:
    """A Store's connection, its package-internal accessors, or the old `store.db`."""
    line = getattr(node, "lineno", 0)
    if isinstance(node, ast.Attribute) and node.attr in CONNECTION:
        yield f"{where}:{line}: use of .{node.attr}"
    if isinstance(node, ast.Attribute) and node.attr == "db" \
            and _named(node.value).endswith("store"):
        yield f"{where}:{line}: use of {_named(node.value)}.db"


def _connects(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "connect" \
        and _named(node.value) == "sqlite3"


def violations_in_tests(source: str, where: str, connect_with_reason: bool) -> Iterator[str]:
    """`where:line: what` for each reach into a Store's connection in a test or benchmark
    module, and each `sqlite3.connect`: allowed, when `connect_with_reason`, where a
    comment explains it."""
    tree = ast.parse(source)
    explained = _explained(source) if connect_with_reason else set()
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        yield from _reaches_into_a_store(node, where)
        if _connects(node) and line not in explained:
            yield f"{where}:{line}: sqlite3.connect " + (
                "without a comment saying why" if connect_with_reason else "in a benchmark")


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
        yield from _reaches_into_a_store(node, where)
        if _connects(node):
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


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def scan(paths: list[Path]) -> list[str]:
    reported = []
    for path in paths:
        reported += dict.fromkeys(violations(path.read_text(), _where(path)))  # once each
    return reported


def scan_tests(paths: list[Path], connect_with_reason: bool) -> list[str]:
    reported = []
    for path in paths:
        reported += dict.fromkeys(violations_in_tests(path.read_text(), _where(path),
                                                  connect_with_reason))
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


def test_tests_and_benchmarks_reach_the_file_through_the_store() -> None:
    tests, bench = sorted(TESTS.rglob("*.py")), sorted(BENCH.rglob("*.py"))
    assert len(tests) > 30 and TESTS / "test_store.py" in tests, "the scan found the tests"
    assert len(bench) > 5 and BENCH / "bench_store.py" in bench
    assert scan_tests(tests, connect_with_reason=True) == []
    assert scan_tests(bench, connect_with_reason=False) == []


PLANTED_TEST = '''
    import sqlite3


    def test_reaches_in(store, bench, db, path):
        store.conn.execute("SELECT count(*) FROM samples")
        assert not bench.store.conn.in_transaction
        db._execute("BEGIN IMMEDIATE")
        return db._rows("SELECT 1"), store._conn(), store._connections, store.db


    def test_connects(path):
        unexplained = sqlite3.connect(path)
        # Another process's view of the file is the point, so a connection of its own.
        reader = sqlite3.connect(path)
        holder = sqlite3.connect(path)  # holds the write lock past the busy timeout
        x = 1  # a comment on the line above code does not explain the next line
        later = sqlite3.connect(path)
        with sqlite3.connect(path) as conn:  # a fault from outside: no Store method drops
            conn.execute("DROP TABLE samples")
        return unexplained, reader, holder, x, later
'''


def test_the_checker_reports_reaches_into_a_store_in_a_planted_test(tmp_path: Path) -> None:
    module = tmp_path / "test_planted.py"
    module.write_text(textwrap.dedent(PLANTED_TEST))
    reported = scan_tests([module], connect_with_reason=True)
    text = "\n".join(reported)
    for reach in (".conn", "._execute", "._rows", "._conn", "._connections", "store.db"):
        assert f"use of {reach}" in text, reach
    assert {int(entry.split(":")[1]) for entry in reported} == {6, 7, 8, 9, 13, 18}, text
    assert "13: sqlite3.connect without a comment saying why" in text
    assert "18: sqlite3.connect without a comment saying why" in text
    assert "SQL" not in text and ".execute()" not in text, \
        "a test may run a statement of its own to cause a fault"
    benchmark = scan_tests([module], connect_with_reason=False)
    assert {int(entry.split(":")[1]) for entry in benchmark
            if "sqlite3.connect in a benchmark" in entry} == {13, 15, 16, 18, 19}, \
        "a benchmark never opens a connection of its own, commented or not"
