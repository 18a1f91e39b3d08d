"""Layer 1: every table, statement and transaction of the SQLite history.

SQL lives in this package and nowhere else (tests/test_storage_boundary.py checks).
Everything above, and the tests and benchmarks too, reads and writes through `Store`
(one per file, shared by any number of threads), its `transaction()`, and the row
types exported here; no connection is handed out.

- connection.py: the connection factory, one connection per thread, transactions
- schema.py: the tables, as migrations recorded in the file
- rows.py: row dataclasses, mapped from rows by column name
- store.py: `Store`, the typed reads and writes
- series.py: range queries over the tiers, rollup building and pruning
- tiers.py: the tiers and how a range is split among them (no SQL)
- alerts.py, outbox.py: the alerts and notifications tables
- errors.py: `StoreError`, a file the store will not use; `DiskFullError`, not yet
"""

from ops.storage.errors import DiskFullError, StoreError, disk_full, disk_full_error
from ops.storage.rows import ACTIVE, Event, Heartbeat, Job, Latest
from ops.storage.store import Store

__all__ = ["ACTIVE", "DiskFullError", "Event", "Heartbeat", "Job", "Latest", "Store", "StoreError",
           "disk_full", "disk_full_error"]
