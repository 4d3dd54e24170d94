"""The quickstart server with everything docs/operations.md describes switched on:

- Prometheus metrics on http://127.0.0.1:METRICS_PORT/metrics (`start_metrics_endpoint`);
- OpenTelemetry traces: an SDK TracerProvider; spans are printed as JSON lines to stderr here
  (swap in an OTLP exporter to send them to a collector);
- the web console mounted at /console of the MCP app, on the server's own store.

    python examples/observed.py --port 8000 --metrics-port 9464 [--store URL] [--console-token TOKEN]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

sys.path.insert(0, str(Path(__file__).parent))

from offload.observe.prometheus import start_metrics_endpoint
from offload.ops.console import create_console
from offload.server.app import http_app
from quickstart import server, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=9464)
    parser.add_argument("--store", help="task store URL (default: the quickstart's SQLite file)")
    parser.add_argument("--console-token", help="require this bearer token for the console's API")
    args = parser.parse_args()
    if args.store:
        tasks.use_store(args.store)

    start_metrics_endpoint(args.metrics_port)
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr, formatter=lambda s: s.to_json(None) + "\n"))
    )
    trace.set_tracer_provider(provider)

    app = http_app(server, tasks=tasks)
    app.mount("/console", create_console(tasks.store, token=args.console_token))  # shares the server's store
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
