"""DuckDB's memory limit and threads: settings with defaults that suit the machine."""

from __future__ import annotations

import os
import re

from overages.errors import OveragesError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_UNIT_BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
# Below this DuckDB cannot even load the reference seeds (1KB fails at dbt's first query).
MIN_MEMORY_BYTES = 100 * 10**6
MAX_THREADS = 256


def default_memory_limit() -> str:
    """60% of physical memory: leaves room for Python, dbt and the operating system."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "4GB"
    return f"{max(1, int(total * 0.6 / 2**30))}GB"


def memory_bytes(limit: str, source: str = "--memory-limit") -> int:
    """A memory size such as 8GB or 512MB in bytes; OveragesError (one line) when it is not one or is too small."""
    match = _SIZE.match(limit)
    if not match:
        raise OveragesError(f"{source} '{limit}' is not a memory size: write it like 8GB or 512MB")
    size = int(float(match.group(1)) * _UNIT_BYTES[match.group(2).lower()])
    if size < MIN_MEMORY_BYTES:
        raise OveragesError(f"{source} '{limit}' is too small: DuckDB needs at least 100MB to build the warehouse")
    return size


def thread_count(text: str, source: str = "OVERAGES_THREADS") -> int:
    """A thread count from text; OveragesError (one line) unless it is a whole number from 1 to 256."""
    try:
        count = int(text.strip())
    except ValueError:
        raise OveragesError(f"{source} '{text}' is not a number of threads: write a whole number from 1 to "
                            f"{MAX_THREADS}") from None  # fmt: skip
    if not 1 <= count <= MAX_THREADS:
        raise OveragesError(f"{source} {count} is out of range: DuckDB takes 1 to {MAX_THREADS} threads")
    return count


def configure(memory_limit: str | None = None, threads: int | None = None) -> tuple[str, int]:
    """Set OVERAGES_MEMORY_LIMIT and OVERAGES_THREADS (read by profiles.yml); returns what is in force."""
    if memory_limit:
        limit, source = memory_limit, "--memory-limit"
    elif os.environ.get("OVERAGES_MEMORY_LIMIT"):
        limit, source = os.environ["OVERAGES_MEMORY_LIMIT"], "OVERAGES_MEMORY_LIMIT"
    else:
        limit, source = default_memory_limit(), "the default memory limit"
    memory_bytes(limit, source)
    if threads is not None:
        count = threads
    elif os.environ.get("OVERAGES_THREADS", "").strip():
        count = thread_count(os.environ["OVERAGES_THREADS"])
    else:
        count = os.cpu_count() or 2
    os.environ["OVERAGES_MEMORY_LIMIT"] = limit.replace(" ", "")
    os.environ["OVERAGES_THREADS"] = str(count)
    return limit, count
