"""Bring the ledger database up to date and exit: ``python -m lib.store.migrate`` (before starting replicas).

Replicas also migrate when they start (once, under a lock), so this is the order a deployment runs,
not a requirement: run it first and a schema problem shows here, in words, instead of in a replica.
"""
from __future__ import annotations

import sys

from lib.store import StoreUnavailable, open_store


def main() -> int:
    try:
        _, ledger = open_store()
    except StoreUnavailable as exc:
        print(exc.message, file=sys.stderr)
        return 1
    where = ledger.db.label
    print(f"The usage ledger at {where} is at schema version {ledger.schema_version}."
          + (f" {ledger.interrupted_on_open} call(s) left pending by a stopped replica were settled as interrupted."
             if ledger.interrupted_on_open else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
