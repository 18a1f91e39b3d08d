"""One copy job: a good backup to every target of BACKUP_COPY_URLS, then each target's
retention; what the collector's job thread runs after each verified backup, on a retry
(backoff) and once a day to read the newest copy back.

A target holding a good copy that was read back within CHECK_EVERY_MS is left alone; one
not checked since is read back and hashed, and copied again when it no longer matches (a
copy damaged at the target). Every outcome is a record (records.py) and an event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from ops import formatting
from ops.backup.catalogue import BackupEntry
from ops.config import Settings
from ops.copies import records
from ops.copies.copier import copy_to, prune, remote_backups, stored_sha256
from ops.copies.records import COPYING, GOOD, CopyRecord
from ops.copies.targets import CopyError, Target, open_target, shown
from ops.redaction import clean
from ops.storage import Store

log = logging.getLogger("ops.copies")

EVENT_SOURCE = "backup"
CHECK_EVERY_MS = 24 * 3_600_000


def targets_of(settings: Settings) -> list[str]:
    return list(settings.backup_copy_urls or [])


def copy_everywhere(settings: Settings, store: Store, entry: BackupEntry,
                    now_ms: Callable[[], int],
                    progress: Callable[[str], None] = lambda _text: None) -> list[CopyRecord]:
    """Copy (or check) `entry` at every target; a failure at one target is recorded and
    the others still run."""
    results = []
    for url in targets_of(settings):
        where = shown(url)
        previous = records.record_of(store, where, entry.id)
        try:
            progress(f"copying {entry.id} to {where}")
            target = open_target(url, settings)
            try:
                results.append(_copy_one(settings, store, entry, target, previous, now_ms))
            finally:
                target.close()
        except CopyError as exc:
            message = clean(str(exc)) or "no detail"
            record = records.failed(previous, where, entry.id, message, now_ms())
            records.save(store, record)
            store.record_event(now_ms(), EVENT_SOURCE, "copy_failed",
                               f"{entry.id} to {where}: {message} (attempt {record.attempts})")
            log.error("copy of %s to %s failed: %s", entry.id, where, message)
            results.append(record)
    return results


def _copy_one(settings: Settings, store: Store, entry: BackupEntry, target: Target,
              previous: CopyRecord | None, now_ms: Callable[[], int]) -> CopyRecord:
    if previous is not None and previous.good:
        if (previous.checked_ts or 0) > now_ms() - CHECK_EVERY_MS:
            return previous
        if _still_there(target, previous):
            checked = replace(previous, checked_ts=now_ms())
            records.save(store, checked)
            return checked
        store.record_event(now_ms(), EVENT_SOURCE, "copy_damaged",
                           f"{entry.id} at {target.shown} no longer matches what was "
                           "copied: copying it again")
    attempts = previous.attempts if previous is not None and not previous.good else 0
    records.save(store, CopyRecord(target.shown, entry.id, COPYING, now_ms(),
                                   attempts=attempts))
    copied = copy_to(entry, target, settings.backup_copy_encrypt_to)
    record = CopyRecord(target.shown, entry.id, GOOD, now_ms(), copied.name, copied.size,
                        copied.sha256, copied.encrypted, checked_ts=now_ms())
    records.save(store, record)
    store.record_event(now_ms(), EVENT_SOURCE, "copy_ok",
                       f"{entry.id} to {target.shown}: {formatting.size(copied.size)}"
                       + (", encrypted" if copied.encrypted else "") + ", read back and matched")
    _prune(settings, store, target, now_ms)
    return record


def _still_there(target: Target, record: CopyRecord) -> bool:
    """The copy's archive reads back to the bytes stored, and its manifest is there."""
    held = next((b for b in remote_backups(target) if b.id == record.backup), None)
    if held is None or not held.complete or held.archive != record.name:
        return False
    return stored_sha256(target, record.name) == record.sha256


def _prune(settings: Settings, store: Store, target: Target, now_ms: Callable[[], int]) -> None:
    days = settings.backup_copy_retention_days or settings.backup_retention_days
    good = {r.backup for r in records.all_records(store) if r.target == target.shown and r.good}
    try:
        removed = prune(target, days, datetime.fromtimestamp(now_ms() / 1000, UTC), good)
    except CopyError as exc:
        store.record_event(now_ms(), EVENT_SOURCE, "copy_prune_failed", clean(str(exc)))
        return
    for ident in removed:
        records.forget(store, target.shown, ident)
        store.record_event(now_ms(), EVENT_SOURCE, "copy_pruned",
                           f"{ident} at {target.shown}: older than {days} days")


def due(settings: Settings, store: Store, entry: BackupEntry, now_ms: int) -> bool:
    """Whether `entry` (the newest good backup) needs a copy job: a target never tried,
    a failed copy whose retry time came, or a good copy not read back for a day."""
    for url in targets_of(settings):
        record = records.record_of(store, shown(url), entry.id)
        if record is None:
            return True
        if record.status == GOOD and (record.checked_ts or 0) <= now_ms - CHECK_EVERY_MS:
            return True
        if record.status != GOOD and record.status != COPYING and \
                (record.retry_ts or 0) <= now_ms:
            return True
    return False


def failures(settings: Settings, store: Store) -> dict[str, str | None]:
    """Per configured target, the error of its newest finished copy attempt (None when it
    was good, or none was made yet): the backup_copy_failed alert's subjects."""
    newest: dict[str, CopyRecord] = {}
    for record in records.all_records(store):
        if record.status == COPYING:
            continue
        best = newest.get(record.target)
        if best is None or record.backup > best.backup:
            newest[record.target] = record
    found: dict[str, str | None] = {}
    for url in targets_of(settings):
        last = newest.get(shown(url))
        found[shown(url)] = None if last is None or last.status == GOOD else \
            f"{last.backup}: {last.error or 'failed'}"
    return found


def summary(settings: Settings, store: Store, backup: str) -> str:
    """`2/2 good`, or with the targets whose copy is not: `1/2 good, sftp://... failed`."""
    found = {r.target: r for r in records.records_of(store, backup)}
    wanted = [shown(url) for url in targets_of(settings)]
    good = sum(1 for t in wanted if t in found and found[t].good)
    others = [f"{t} {found[t].status}" for t in wanted if t in found and not found[t].good]
    return ", ".join([f"{good}/{len(wanted)} good", *others])
