"""``python -m lib.store.migrate``: the deployment's first step, on either backend, says where and which version."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lib.store.db import migrations

ROOT = Path(__file__).resolve().parents[2]


def test_migrate_brings_the_database_up_to_date_and_says_so(store_dir):
    env = {**os.environ, "STUDIO_DATA_DIR": str(store_dir)}
    done = subprocess.run([sys.executable, "-m", "lib.store.migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"is at schema version {len(migrations())}." in done.stdout
    assert "password" not in done.stdout.lower()


def test_migrate_says_in_words_when_the_database_cannot_be_reached(tmp_path):
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path), "STUDIO_DATABASE_URL": "postgresql+psycopg://u:secretpw@127.0.0.1:9/db"}
    done = subprocess.run([sys.executable, "-m", "lib.store.migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Check STUDIO_DATABASE_URL" in done.stderr
    assert "secretpw" not in done.stderr and "Traceback" not in done.stderr
