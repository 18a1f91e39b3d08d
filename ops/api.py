"""Starlette routes for the JSON endpoints and /metrics, mounted on the dashboard server."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
