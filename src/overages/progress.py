"""What a long build shows while it runs: which step, and how far it is (nodes done of total)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Progress:
    """Prints one line per finished dbt node to `stream` (stderr: stdout stays the report's)."""

    enabled: bool = True
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    done: int = 0
    total: int = 0
    failed: int = 0
    started: float = field(default_factory=time.perf_counter)

    def step(self, text: str) -> None:
        if self.enabled:
            print(f"-- {text}", file=self.stream, flush=True)

    def on_dbt_event(self, event: Any) -> None:
        """dbtRunner callback: count and show finished nodes."""
        name = event.info.name
        data = event.data
        total = getattr(data, "total", 0)
        if total:
            self.total = max(self.total, int(total))
        if name != "NodeFinished":
            return
        info = data.node_info
        self.done += 1
        status = info.node_status or "done"
        if status in ("error", "fail", "runtime error"):
            self.failed += 1
        if self.enabled:
            shown_total = max(self.total, self.done)
            elapsed = time.perf_counter() - self.started
            print(
                f"   [{self.done:>3}/{shown_total}] {status:<7} {info.resource_type:<9} {info.node_name} "
                f"({elapsed:.0f} s)",
                file=self.stream,
                flush=True,
            )
