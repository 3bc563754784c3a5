"""Notifications: payload rendering and signing (pure; delivery lives in its own worker)."""
