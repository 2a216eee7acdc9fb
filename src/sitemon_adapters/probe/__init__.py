"""Probers, one package per engine, and the router that picks one by a site's kind."""

from sitemon_adapters.probe.router import ProbeRouter

__all__ = ["ProbeRouter"]
