"""Pieces of the aiohttp prober: phase tracing, TLS timing and error classification."""
