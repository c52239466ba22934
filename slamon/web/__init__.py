"""The daemon's HTTP face: health, readiness and ``/metrics`` (aiohttp)."""

from slamon.web.app import MetricsRenderer, build_app
from slamon.web.server import PortLimits, WebServer, admin_exposure_problem, is_loopback

__all__ = ["MetricsRenderer", "PortLimits", "WebServer", "admin_exposure_problem", "build_app", "is_loopback"]
