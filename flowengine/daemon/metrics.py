"""Prometheus metrics of the flow daemon, in a registry of its own (several daemons per process in tests).

Names follow Prometheus conventions (`_total` counters, `_seconds` histograms). Labels are bounded:
`flow` is a route's label from the config, `outcome` a run's end reason, `code` an error code.
"""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..runtime.http import HttpClient, HttpRequest, HttpResponse

__all__ = ["Metrics", "TimedHttp", "CONTENT_TYPE_LATEST"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter("flowengine_calls", "Calls that ended, by flow and outcome", ["flow", "outcome"],
                             registry=r)
        self.steps = Counter("flowengine_call_steps", "States executed, by flow", ["flow"], registry=r)
        self.errors = Counter("flowengine_call_errors", "Runtime error events, by flow and code",
                              ["flow", "code"], registry=r)
        self.rejected = Counter("flowengine_calls_rejected", "Calls refused before a flow ran, by reason",
                                ["reason"], registry=r)
        self.live = Gauge("flowengine_live_calls", "Calls running now", registry=r)
        self.duration = Histogram("flowengine_call_duration_seconds", "Call duration", ["flow"], registry=r,
                                  buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
        self.fetch = Histogram("flowengine_http_request_seconds", "Latency of the flows' HTTP requests "
                               "(documents, webhooks)", ["method"], registry=r,
                               buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.fetch_failures = Counter("flowengine_http_request_failures", "HTTP requests without an answer "
                                      "(timeouts, network errors)", ["method"], registry=r)
        self.reloads = Counter("flowengine_flow_reloads", "Hot reloads of flow files, by result",
                               ["flow", "result"], registry=r)
        self.ami_connected = Gauge("flowengine_ami_connected", "1 while logged in to AMI", registry=r)

    def watch_ami(self, connected: Callable[[], bool]) -> None:
        self.ami_connected.set_function(lambda: 1.0 if connected() else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class TimedHttp:
    """An HttpClient that records each request's latency (the runtime's own client does the work)."""

    def __init__(self, client: HttpClient, metrics: Metrics):
        self.client = client
        self.metrics = metrics

    async def send(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.client.send(request)
        self.metrics.fetch.labels(request.method).observe(time.perf_counter() - started)
        if response.status == 0:
            self.metrics.fetch_failures.labels(request.method).inc()
        return response
