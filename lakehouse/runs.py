"""Run identity and the result every layer returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id, e.g. ``20191101T000000Z-1a2b3c4d``."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class LayerResult:
    """What one layer did in one run: named counts, problems, and how long it took."""

    layer: str
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Lines worth showing in the run summary (e.g. where a report was written)."""
    seconds: float = 0.0
    completed: list[int] = field(default_factory=list)
    """Silver, gold: the batches completed in this run, each by its own run-log row."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary_line(self) -> str:
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        status = "ok" if self.ok else f"{len(self.errors)} error(s)"
        return f"{self.layer:<7} {status:<11} {counts} ({self.seconds:.1f} s)"
