"""Imagine Studio's core: no Streamlit imports here (lib/ui is the one exception)."""
APP_VERSION = "0.1.0"
