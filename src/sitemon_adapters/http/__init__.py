"""Pieces of the probers: phase tracing, TLS timing, error classification (aiohttp), the
stages and header limit both share, and the body-regex search."""
