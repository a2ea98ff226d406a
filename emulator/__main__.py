"""python -m emulator --port 8787 [--latency-ms 300] [--today 2026-12-01]: serve every wire protocol until Ctrl-C."""
from __future__ import annotations

import argparse
from datetime import date

import uvicorn

from emulator.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Imagine Studio's OpenAI + Karlo emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--latency-ms", type=int, default=0, help="default latency added to every call")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="the day /v1 is api.openai.com on (YYYY-MM-DD; default "
                                                      "STUDIO_TODAY, else today's UTC date)")
    args = parser.parse_args()
    app = create_app(default_latency_ms=args.latency_ms, today=args.today)
    app.state.emulator.public_base_url = f"http://{args.host}:{args.port}"
    base = f"http://{args.host}:{args.port}"
    print(f"OPENAI_BASE_URL={base}/v1  OPENAI_COMPAT_BASE_URL={base}/compat/v1  KARLO_BASE_URL={base}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
