"""The measurement store: raw results, day rollups, catalogue revisions, exclusions,
breaches and closed-period SLA records, on SQLite (default) or PostgreSQL.

    store = Store.open("sqlite:///var/slamon.db")      # creates and upgrades the schema
    writer = ResultWriter(store, stats, thresholds)     # the daemon's result sink
"""

from slamon.store.store import (
    PeriodRecordExists,
    RevisionChanges,
    Store,
    StoreError,
    StoreUnavailable,
    Thresholds,
)
from slamon.store.tables import BreachRow, ExclusionRow, PeriodRecordRow, ServiceRevisionRow

__all__ = [
    "BreachRow",
    "ExclusionRow",
    "PeriodRecordExists",
    "PeriodRecordRow",
    "RevisionChanges",
    "ServiceRevisionRow",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Thresholds",
]
