"""Layer 1: every table, statement and transaction of the SQLite history.

SQL lives in this package and nowhere else (a test checks it). Everything above reads
and writes through `Store` and the row types exported here.
"""

from ops.storage.store import ACTIVE, Event, Heartbeat, Job, Latest, Store

__all__ = ["ACTIVE", "Event", "Heartbeat", "Job", "Latest", "Store"]
