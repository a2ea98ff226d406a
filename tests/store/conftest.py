"""The store tests run on every store backend (tests/store_backends.py)."""
from tests.store_backends import ledger, postgres_cluster, s3_server, store_dir  # noqa: F401
