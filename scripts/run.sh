#!/usr/bin/env bash
# Install the app's dependencies and start it (demo mode when there are no API keys).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -r requirements.txt
exec python -m streamlit run streamlit_app.py "$@"
