"""Store tests run on every backend."""
from tests.store_backends import store_dir  # noqa: F401
