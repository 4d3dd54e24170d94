"""A Prometheus endpoint for the task metrics: the OpenTelemetry SDK with its Prometheus reader.

    start_metrics_endpoint(9464)        # what `offload serve --metrics-port 9464` does

Needs the `metrics` extra (`pip install 'offload[metrics]'`: opentelemetry-sdk and
opentelemetry-exporter-prometheus, which brings prometheus-client).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_metrics_arguments", "apply_metrics_arguments", "start_metrics_endpoint"]


def start_metrics_endpoint(port: int, host: str = "127.0.0.1") -> Any:
    """Install an SDK MeterProvider that Prometheus scrapes at http://HOST:PORT/metrics; return it.

    Call once per process, before the server starts: the instruments already handed out by the
    API (offload.observe.metrics) start recording from then on.
    """
    try:
        from opentelemetry import metrics
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from prometheus_client import start_http_server
    except ImportError as exc:
        raise ImportError(
            f"the metrics endpoint needs the metrics extra: pip install 'offload[metrics]' ({exc})"
        ) from exc
    try:  # no otel_scope_* label on every series: every one of ours comes from the `offload` meter
        reader = PrometheusMetricReader(scope_info_enabled=False)
    except TypeError:  # an exporter older than the option
        reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "offload"}))
    metrics.set_meter_provider(provider)
    start_http_server(port, addr=host)
    return provider


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """`--metrics-port N` (off by default) and `--metrics-host`, for `offload serve` and `offload worker`."""
    parser.add_argument(
        "--metrics-port", type=int, metavar="N", help="serve Prometheus metrics on this port (needs offload[metrics])"
    )
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics endpoint (default 127.0.0.1)"
    )


def apply_metrics_arguments(args: argparse.Namespace) -> None:
    if getattr(args, "metrics_port", None):
        start_metrics_endpoint(args.metrics_port, args.metrics_host)
