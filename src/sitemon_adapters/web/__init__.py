"""The web read side: JSON API (OpenAPI 3.1), status page and badges on aiohttp.web."""

from sitemon_adapters.web.app import WebStats, create_app
from sitemon_adapters.web.options import WebAuth, WebOptions
from sitemon_adapters.web.server import WebServer

__all__ = ["WebAuth", "WebOptions", "WebServer", "WebStats", "create_app"]
