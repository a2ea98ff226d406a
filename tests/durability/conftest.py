"""Durability tests run on every store backend."""
from tests.store_backends import store_dir  # noqa: F401
