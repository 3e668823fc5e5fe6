"""Small text helpers shared by the scoring modules."""

from __future__ import annotations

from collections.abc import Sequence


def compact(values: Sequence[object], limit: int = 8) -> str:
    """``a, b, c, ... (12 more)``: a long list of ids kept readable in a message."""
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f", ... ({len(values) - limit} more)" if len(values) > limit else "")
