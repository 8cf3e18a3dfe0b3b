"""DuckDB's memory limit and threads: settings with defaults that suit the machine."""

from __future__ import annotations

import os
import re

_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def default_memory_limit() -> str:
    """60% of physical memory: leaves room for Python, dbt and the operating system."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "4GB"
    return f"{max(1, int(total * 0.6 / 2**30))}GB"


def configure(memory_limit: str | None = None, threads: int | None = None) -> tuple[str, int]:
    """Set OVERAGES_MEMORY_LIMIT and OVERAGES_THREADS (read by profiles.yml); returns what is in force."""
    from overages.errors import OveragesError

    limit = memory_limit or os.environ.get("OVERAGES_MEMORY_LIMIT") or default_memory_limit()
    if not _SIZE.match(limit):
        raise OveragesError(f"'{limit}' is not a memory size: write it like 8GB or 512MB")
    count = threads or int(os.environ.get("OVERAGES_THREADS") or os.cpu_count() or 2)
    os.environ["OVERAGES_MEMORY_LIMIT"] = limit.replace(" ", "")
    os.environ["OVERAGES_THREADS"] = str(count)
    return limit, count
