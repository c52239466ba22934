"""Rendering a private ``CollectorRegistry`` for ``/metrics``.

The web adapter takes any ``(accept_header) -> (body, content_type)`` function; this
one gives the Prometheus text format, or OpenMetrics when the scraper asks for it.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


def metrics_renderer(registry: CollectorRegistry) -> Callable[[str], tuple[bytes, str]]:
    def render(accept: str) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        return encoder(registry), content_type

    return render
