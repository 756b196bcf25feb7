"""The experiment dashboard: a read-only web view over an experiment's store."""

from __future__ import annotations

from .server import DashboardServer, serve_dashboard

__all__ = ["DashboardServer", "serve_dashboard"]
