"""What the pages say about backups: the last one, the next one, a job in words.

The states, kinds and events the backup code stores and prints stay English there (the
commands, JSON and the database read them); they are worded in the page's language
here, at display. Texts a service, a manifest or an error wrote are islands (`inert`,
`ltr` by default; the page passes its Markdown-safe `plain`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ops import formatting
from ops.backup.catalogue import BackupEntry, databases_in, list_backups
from ops.backup.manifest import parse_iso
from ops.backup.schedule import NEXT_BACKUP_KEY
from ops.config import Settings
from ops.copies import records
from ops.copies.run import targets_of
from ops.copies.targets import shown
from ops.i18n import N_, _, ltr, ngettext, right_to_left
from ops.storage import Job, Store

Inert = Callable[[str], str]

# What a job is, as the pages name it (the stored kind stays English).
KINDS = {"backup": N_("backup"), "restore": N_("restore"), "verify": N_("verify"),
         "drill": N_("drill"), "copy": N_("copy"), "fetch": N_("fetch")}
# A backup's status in the catalogue (ops.backup.catalogue), and a copy's (ops.copies.records).
STATUSES = {"ok": N_("ok"), "no manifest": N_("no manifest"),
            "unreadable manifest": N_("unreadable manifest"),
            "size differs from manifest": N_("size differs from manifest"),
            "good": N_("good"), "failed": N_("failed"), "copying": N_("copying")}
# The backup events the page lists, as English shows them (the kind with spaces).
EVENTS = {kind.replace(" ", "_"): kind for kind in (
    N_("backup started"), N_("backup ok"), N_("backup failed"), N_("backup interrupted"),
    N_("backup pruned"), N_("backup prune failed"),
    N_("restore started"), N_("restore ok"), N_("restore failed"), N_("restore interrupted"),
    N_("restore safety backup"),
    N_("verify started"), N_("verify ok"), N_("verify failed"), N_("verify interrupted"),
    N_("drill started"), N_("drill ok"), N_("drill failed"), N_("drill interrupted"),
    N_("copy started"), N_("copy ok"), N_("copy failed"), N_("copy interrupted"),
    N_("copy damaged"), N_("copy pruned"), N_("copy prune failed"),
    N_("fetch started"), N_("fetch ok"), N_("fetch failed"), N_("fetch interrupted"),
    N_("restored copy left out"), N_("restored copy included"))}


def listed(items: list[str]) -> str:
    """Items one after the other, with the comma of the page's language."""
    return ("، " if right_to_left() else ", ").join(items)


def kind_label(kind: str, inert: Inert = ltr) -> str:
    return _(KINDS[kind]) if kind in KINDS else inert(kind)


def status_label(status: str, inert: Inert = ltr) -> str:
    return _(STATUSES[status]) if status in STATUSES else inert(status)


def event_label(kind: str) -> str:
    """`backup ok` as the events table reads it (an unknown kind as it is stored)."""
    return _(EVENTS[kind]) if kind in EVENTS else ltr(kind.replace("_", " "))


def count(value: int) -> str:
    """`12,345` as a page shows a count in a sentence."""
    return formatting.figure(f"{value:,}")


@dataclass(frozen=True)
class BackupSummary:
    last: BackupEntry | None
    last_good: BackupEntry | None
    next_ts: int | None
    count: int

    def last_figure(self, now_ts: int) -> str:
        """The last backup's age, as the figure above its caption shows it: its two
        largest units (`1d 5h ago`), which fit the figure's box; the caption says it all."""
        if self.last is None:
            return _("none yet")
        return formatting.age(self.last.created_ms, now_ts, units=2)

    def last_text(self, now_ts: int, inert: Inert = ltr) -> str:
        if self.last is None:
            return _("none yet")
        return _("{age}, {size}, {status}").format(
            age=formatting.age(self.last.created_ms, now_ts),
            size=formatting.size(self.last.size_bytes),
            status=status_label(self.last.status, inert))

    def next_figure(self, settings: Settings) -> str:
        """When the next backup runs, as the figure above its caption shows it."""
        if not scheduled(settings):
            return _("off")
        zone = settings.backup_timezone.key
        if self.next_ts is None:
            return _("at {time}").format(
                time=formatting.figure(f"{settings.backup_time:%H:%M} {zone}"))
        when = datetime.fromtimestamp(self.next_ts / 1000, settings.backup_timezone)
        return formatting.figure(f"{when:%H:%M} {zone}")

    def next_text(self, settings: Settings) -> str:
        if settings.mongo_uri is None:
            return _("backups off until {setting} is set").format(setting=ltr("MONGO_URI"))
        if not settings.enable_auto_backup:
            return _("automatic backups off ({setting})").format(
                setting=ltr("ENABLE_AUTO_BACKUP=false"))
        zone = settings.backup_timezone.key
        if self.next_ts is None:
            return _("daily at {time}").format(
                time=formatting.figure(f"{settings.backup_time:%H:%M} {zone}"))
        when = datetime.fromtimestamp(self.next_ts / 1000, settings.backup_timezone)
        return formatting.figure(f"{when:%Y-%m-%d %H:%M} {zone}")


def summary(settings: Settings, store: Store) -> BackupSummary:
    entries = list_backups(settings.backup_dir)
    good = next((e for e in entries if e.good_daily), None)
    return BackupSummary(entries[0] if entries else None, good,
                         store.state(NEXT_BACKUP_KEY), len(entries))


def scheduled(settings: Settings) -> bool:
    """Whether daily backups run at all (the figure "off" otherwise)."""
    return settings.mongo_uri is not None and settings.enable_auto_backup


def databases_text(entry: BackupEntry) -> str:
    """`alaweal_db, shop` as the catalogue names a backup's databases."""
    return ltr(", ".join(databases_in(entry)) or "?")


def option_label(entry: BackupEntry) -> str:
    """A backup as the selectors offer it, read as the catalogue is: time, size,
    databases (and a status other than ok)."""
    status = "" if entry.ok else f" · {status_label(entry.status)}"
    return (f"{formatting.clock(entry.created_ms)} · {formatting.size(entry.size_bytes)} · "
            f"{databases_text(entry)}{status}")


def drill_text(entry: BackupEntry) -> str:
    """The catalogue's drill column: `matched 2026-12-06` or `failed 2026-12-06`, empty
    when the backup was never drilled."""
    drill = entry.manifest.drill if entry.manifest is not None else None
    if not drill:
        return ""
    at = parse_iso(drill.get("at"))  # the day is enough in a column; the events say more
    when = formatting.local(int(at.timestamp() * 1000)).strftime("%Y-%m-%d") if at else "?"
    return (_("matched {date}") if drill.get("ok") else _("failed {date}")).format(
        date=formatting.figure(when))


def copies_text(settings: Settings, store: Store, backup: str) -> str:
    """The catalogue's copies column, as ops.copies.run.summary says it for the commands:
    `2/2 good`, or with the targets whose copy is not: `1/2 good, sftp://... failed`."""
    found = {r.target: r for r in records.records_of(store, backup)}
    wanted = [shown(url) for url in targets_of(settings)]
    good = sum(1 for t in wanted if t in found and found[t].good)
    others = [_("{target} {status}").format(target=ltr(t), status=status_label(found[t].status))
              for t in wanted if t in found and not found[t].good]
    return listed([_("{count} good").format(count=formatting.figure(f"{good}/{len(wanted)}")),
                   *others])


def last_drill(entries: list[BackupEntry]) -> dict[str, Any] | None:
    """The newest drill recorded in any backup's manifest."""
    drills = [e.manifest.drill for e in entries if e.manifest is not None and e.manifest.drill]
    return max(drills, key=lambda d: str(d.get("at") or ""), default=None)


def copy_notice(settings: Settings, copies: list[str], target: str,
                inert: Inert = ltr) -> str:
    """What restoring into `target` means for the daily backups, said before it runs."""
    name = inert(target)
    if settings.backup_databases is not None:
        listed_there = target in settings.backup_databases
        setting = ltr("BACKUP_DATABASES")
        return (_("Daily backups take {setting} only: {database} is listed there.")
                if listed_there else
                _("Daily backups take {setting} only: {database} is not listed there.")
                ).format(setting=setting, database=name)
    if target in copies:
        return _("{database} is a restored copy: the daily backups leave it out.").format(
            database=name)
    return _("If {database} is a new database, it becomes a restored copy that the daily "
             "backups leave out (they take every database but {system} and such copies); "
             "restoring into the backed-up database's own name, or over one that has data, "
             "is a recovery and stays in the backups.").format(
        database=name, system=_("{admin}, {local}, {config}").format(
            admin=ltr("admin"), local=ltr("local"), config=ltr("config")))


def _running(job: Job, what: str) -> str:
    p = job.progress or {}
    if "waiting" in p:
        return _("{job}: {waiting}").format(job=what, waiting=ltr(p["waiting"]))
    if job.kind in ("drill", "copy", "fetch"):
        return _("{job} running: {current}").format(
            job=what, current=ltr(p["current"]) if p.get("current") else _("starting"))
    total = p.get("documents_estimated") or p.get("documents_total") or "?"
    if not isinstance(total, int):
        return _("{job} running: {collections} collections done").format(
            job=what, collections=formatting.figure(str(p.get("collections_done", 0))))
    text = _("{job} running: {collections} collections, {documents} of ~{total} "
             "documents").format(
        job=what, total=count(total), documents=count(p.get("documents_done", 0)),
        collections=formatting.figure(f"{p.get('collections_done', 0)}/"
                                      f"{p.get('collections_total', '?')}"))
    if p.get("current"):
        text += _(", now {current}").format(current=ltr(p["current"]))
    return text


def _finished(job: Job, what: str) -> str:
    r = job.result or {}
    if job.kind == "backup":
        return _("{job} finished: {file}, {documents} documents, {size}, verified").format(
            job=what, file=ltr(r.get("file")), documents=count(r.get("documents_total", 0)),
            size=formatting.size(r.get("size_bytes")))
    if job.kind == "restore":
        safety = (_("; safety backup {backup} holds what was there before").format(
            backup=ltr(r["safety_backup"])) if r.get("safety_backup") else "")
        return _("{job} finished: {documents} documents restored into {database}{safety}"
                 ).format(job=what, documents=count(r.get("documents", 0)),
                          database=ltr(r.get("to_db")), safety=safety)
    if job.kind == "drill":
        return _("{job} finished: {summary}").format(job=what, summary=ltr(r.get("summary")))
    if job.kind == "copy":
        targets = len(r.get("copies", []))
        return ngettext("{job} finished: {backup} copied to {count} targets, each read back "
                        "and matched",
                        "{job} finished: {backup} copied to {count} targets, each read back "
                        "and matched", targets).format(
            job=what, backup=ltr(r.get("backup")), count=formatting.figure(str(targets)))
    if job.kind == "fetch":
        return _("{job} finished: {file} fetched back and verified; restore it below").format(
            job=what, file=ltr(r.get("file")))
    return _("{job} finished: {backup} is intact ({documents} documents)").format(
        job=what, backup=ltr(r.get("backup")), documents=count(r.get("documents", 0)))


def describe_job(job: Job) -> str:
    """One line for a job: what it is doing, or how it ended. The job's own texts (its
    error, names, the result's strings) are islands."""
    what = _("{kind} job {id}").format(kind=kind_label(job.kind),
                                       id=formatting.figure(str(job.id)))
    if job.status == "queued":
        return _("{job} is queued (waiting for the collector)").format(job=what)
    if job.status == "running":
        return _running(job, what)
    if job.status == "ok":
        return _finished(job, what)
    error = ltr(job.error) if job.error else _("no detail")
    if job.status == "failed":
        return _("{job} failed: {error}").format(job=what, error=error)
    if job.status == "interrupted":
        return _("{job} interrupted: {error}").format(job=what, error=error)
    return _("{job} {status}: {error}").format(job=what, status=ltr(job.status), error=error)


def fraction_done(job: Job) -> float | None:
    p = job.progress or {}
    total = p.get("documents_estimated") or p.get("documents_total")
    if not total:
        return None
    return min(1.0, float(p.get("documents_done", 0)) / float(total))
