"""A local stand-in for the OpenAI and Karlo wire protocols (Starlette + uvicorn).

It speaks HTTP only: the app and the tests reach it through base URLs, exactly
as they reach the real services.  It imports nothing from ``lib``.
"""
from emulator.app import create_app  # noqa: F401
from emulator.server import RunningEmulator, start_in_thread  # noqa: F401
