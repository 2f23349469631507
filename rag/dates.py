"""Dates as users write them: ISO days (YYYY-MM-DD) in flags, manifests and question sets."""
from __future__ import annotations

from datetime import date


def iso_date(value, where: str) -> date | None:
    """The day `value` names; None when it is empty. Raises ValueError naming `where` for anything else."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
