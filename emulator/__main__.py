"""python -m emulator --port 8787 [--latency-ms 300]: serve both wire protocols until Ctrl-C."""
from __future__ import annotations

import argparse

import uvicorn

from emulator.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Imagine Studio's OpenAI + Karlo emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--latency-ms", type=int, default=0, help="default latency added to every call")
    args = parser.parse_args()
    app = create_app(default_latency_ms=args.latency_ms)
    app.state.emulator.public_base_url = f"http://{args.host}:{args.port}"
    print(f"OPENAI_BASE_URL=http://{args.host}:{args.port}/v1  KARLO_BASE_URL=http://{args.host}:{args.port}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
