"""Which databases a backup holds (the catalogue, `python -m ops backups`), and which a
default backup takes: every database but admin, local, config and the copies a restore
made, so a restored copy no longer doubles the next backup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.worker import JobWorker
from ops.backup.catalogue import databases_in, list_backups
from ops.backup.dump import dump
from ops.backup.restored import restored_copies
from ops.config import load_settings
from ops.storage import Job
from tests.backup_data import ARABIC, client, seed, unique_db
from tests.servers import MongoStandIn
from tests.test_cli import run_ops


def worker_for(env: dict[str, str], uri: str, **extra: str) -> JobWorker:
    return JobWorker(load_settings({**env, "MONGO_URI": uri, "ENABLE_AUTO_BACKUP": "false",
                                    **extra}, env_file=None))


def run(worker: JobWorker, kind: str, params: dict[str, Any] | None = None) -> Job:
    job, _ = worker.store.request_job(kind, "test", 0, params, join=False)
    finished = worker.run_pending()
    assert finished is not None and finished.id == job.id
    done = worker.store.job(job.id)
    assert done is not None and done.status == "ok", done
    return done


def arabic_shop(uri: str, name: str) -> None:
    seed(uri, name, {"orders": [{"_id": i, "customer": f"{ARABIC} {i}", "note": "x" * 400}
                                for i in range(300)]})


def test_backups_command_names_each_backups_databases(shared_mongo: Any, env: dict[str, str],
                                                      tmp_path: Path) -> None:
    first, second = unique_db("alaweal_db"), unique_db("shop")
    seed(shared_mongo.uri, first, {"x": [{"_id": 1, "name": ARABIC}]})
    seed(shared_mongo.uri, second, {"y": [{"_id": 2}]})
    backups = Path(env["OPS_DATA_DIR"]) / "backups"
    manifest = dump(shared_mongo.uri, backups, [first, second])
    # An archive without its manifest (copied in alone): its databases come from the archive.
    alone = backups / "mongo-20240101T000000Z.archive.gz"
    alone.write_bytes((backups / manifest.file).read_bytes())

    listed = json.loads(run_ops(env, "backups", "--json").stdout)
    assert [(b["id"], b["databases"]) for b in listed] == [
        (manifest.id, [first, second]), ("mongo-20240101T000000Z", [first, second])]

    text = run_ops(env, "backups")
    assert text.returncode == 0, text.stderr
    header, newest, older = text.stdout.splitlines()
    assert header.split()[-1] == "databases"
    assert newest.startswith(manifest.id) and newest.endswith(f"ok          {first},{second}")
    assert older.endswith(f"no manifest {first},{second}")


def test_a_restored_copy_is_left_out_of_the_default_backup(mongo_own: MongoStandIn,
                                                           env: dict[str, str]) -> None:
    """The admin's first week: alaweal_db restored as alaweal_db_restored made the next
    backup twice the size. Now the copy is remembered and left out, until the admin says
    otherwise; a recovery into the database's own name is never left out."""
    uri = mongo_own.uri
    arabic_shop(uri, "alaweal_db")
    worker = worker_for(env, uri)
    first = run(worker, "backup").result or {}
    assert first["databases"] == ["alaweal_db"]

    restored = run(worker, "restore", {"backup": first["id"], "from_db": "alaweal_db",
                                       "to_db": "alaweal_db_restored"})
    assert (restored.result or {})["documents"] == 300
    assert [c.name for c in restored_copies(worker.store)] == ["alaweal_db_restored"]

    second = run(worker, "backup").result or {}
    assert second["databases"] == ["alaweal_db"]
    assert second["size_bytes"] < first["size_bytes"] * 1.2, "not doubled by the copy"
    kinds = [e.kind for e in worker.store.events(0, 2**62, sources=["backup"])]
    assert "restored_copy_left_out" in kinds

    # A recovery (same name, over the original with drop) is not a copy.
    run(worker, "restore", {"backup": first["id"], "to_db": "alaweal_db", "drop": True})
    assert [c.name for c in restored_copies(worker.store)] == ["alaweal_db_restored"]

    # Named in BACKUP_DATABASES, the copy is backed up like any other database.
    listed = worker_for(env, uri, BACKUP_DATABASES="alaweal_db,alaweal_db_restored")
    third = run(listed, "backup").result or {}
    assert third["databases"] == ["alaweal_db", "alaweal_db_restored"]


def test_restore_command_remembers_a_copy_and_says_so(mongo_own: MongoStandIn,
                                                      env: dict[str, str]) -> None:
    uri = mongo_own.uri
    arabic_shop(uri, "alaweal_db")
    seed(uri, "reports", {"r": [{"_id": 1}]})
    backups = Path(env["OPS_DATA_DIR"]) / "backups"
    manifest = dump(uri, backups, ["alaweal_db", "reports"])
    environ = {**env, "MONGO_URI": uri}

    done = run_ops(environ, "restore", manifest.id, "--to-db", "reports_copy",
                   "--from-db", "reports")
    assert done.returncode == 0, done.stderr
    assert "reports_copy is a restored copy: left out of the default backups" in done.stdout
    with client(uri) as c:
        assert c["reports_copy"].list_collection_names() == ["r"]
    [entry] = list_backups(backups)
    assert databases_in(entry) == ["alaweal_db", "reports"]

    later = run(worker_for(env, uri), "backup").result or {}
    assert later["databases"] == ["alaweal_db", "reports"]
