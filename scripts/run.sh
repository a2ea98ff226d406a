#!/usr/bin/env bash
# Install the app's dependencies and start it (demo mode when there are no API keys).
# It listens on 127.0.0.1 only: anyone who can reach the port spends the server's keys and can delete
# the ledger. To serve other people, read "Running it for other people" in the README first.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -r requirements.txt
exec python -m streamlit run streamlit_app.py --server.address "${STREAMLIT_SERVER_ADDRESS:-127.0.0.1}" "$@"
