"""Batches: the one plan -> write -> complete mechanism of every layer.

Each layer works in batches numbered 1, 2, ... A batch is

1. **planned** in memory: its number (one past the highest batch completed or left in flight),
   what it covers (bronze: landing files; silver: bronze batches; gold: silver batches), the
   run that planned it and when. Planning costs no commit.
2. **written**: every commit it makes carries its :class:`~lakehouse.delta_io.BatchMark`,
   ``<app>/<number>`` and the plan as JSON, in the commit's ``userMetadata``. So the plan is
   durable from the batch's first commit on, and a write that a killed run had committed is
   skipped when the batch is resumed (``append_once``, ``merge_once``, ...).
3. **completed** by one commit to the layer's ledger with the batch's outcome: bronze appends
   its files to ``bronze.files``; silver and gold append the batch's row to the run log
   ``ops.run_log`` (:meth:`lakehouse.runlog.LayerRun.complete`), which is where a run's
   outcome is recorded anyway. The ledger lists completed batches only.

A run killed before the batch's first commit left nothing behind: the next run plans again. A
run killed after it left a batch *in flight*: marked commits in the layer's tables for a
number the ledger does not hold. :func:`in_flight` finds it in the newest commit files of those
tables (no Spark job), and the layer finishes it, with the plan it was started with, before it
plans anything new.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self, TypeVar, get_origin, get_type_hints

from pyspark.sql import SparkSession

from lakehouse.delta_io import BatchMark, newest_mark
from lakehouse.errors import NeedsAction
from lakehouse.parallel import run_all


@dataclass(frozen=True, kw_only=True)
class Batch:
    """A batch of one layer; a layer's batch class adds what the batch covers (plain values:
    ``int``, ``bool``, ``str``, ``datetime``, tuples of ``str``), carried in its marks."""

    app: str
    """Who writes the batch (``lakehouse.bronze``, ...): the app of its marks."""
    number: int
    run_id: str
    """The run that planned the batch; rows it writes carry this id, however often resumed."""
    planned_at: datetime
    rebuild: bool = False
    """Rebuild the layer's tables from all of its input instead of adding to them."""

    def mark(self, app: str | None = None) -> BatchMark:
        """The mark of the batch's commits (``app``: another app of the layer, e.g. the one
        that marks a rebuild's emptying overwrites)."""
        plan = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        for key in ("app", "number"):
            del plan[key]
        return BatchMark(app or self.app, self.number, plan)

    @classmethod
    def from_mark(cls, mark: BatchMark, app: str) -> Self:
        """The batch a mark was written for (``app``: the batch's own app)."""
        hints = get_type_hints(cls)
        values: dict[str, Any] = {"app": app, "number": mark.batch}
        for f in fields(cls):
            if f.name in mark.plan and f.name not in values:
                values[f.name] = _typed(mark.plan[f.name], hints[f.name])
        return cls(**values)


B = TypeVar("B", bound=Batch)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _typed(value: Any, hint: Any) -> Any:
    if hint is datetime:
        return datetime.fromisoformat(value)
    if get_origin(hint) is tuple:
        return tuple(value)
    return value


def in_flight(
    spark: SparkSession,
    kind: type[B],
    app: str,
    locations: Iterable[str],
    completed: int,
    apps: Collection[str] = (),
) -> B | None:
    """The batch of ``app`` left in flight: the highest batch past ``completed`` (the highest
    number in the layer's ledger) whose mark, with its plan, is among the newest commits of
    ``locations``; ``apps`` are the layer's other apps (e.g. its rebuilds' resets)."""
    every_app = (app, *apps)
    marks = run_all(*(lambda loc=loc: newest_mark(spark, loc, every_app) for loc in locations))
    found = [m for m in marks if m is not None and m.batch > completed and m.plan]
    if not found:
        return None
    return kind.from_mark(max(found, key=lambda m: m.batch), app)


def next_number(completed: int, left: Batch | None) -> int:
    """The number of a new batch: past the ledger's and any batch left in flight (a rebuild
    planned over a batch in flight supersedes it and must not reuse its marks)."""
    return max(completed, left.number if left else 0) + 1


class PendingFromEarlierRelease(NeedsAction):
    """A ledger row left ``pending`` by a release that still planned batches in the ledger."""


def refuse_pending(layer: str, pending: Iterable[int]) -> None:
    """Stop, with what to do, if a ledger holds a batch an earlier release left pending: this
    release keeps plans in the batches' marks, so it cannot tell what that batch wrote."""
    numbers = sorted(set(pending))
    if numbers:
        raise PendingFromEarlierRelease(
            f"{layer} batch {numbers[0]} was left pending by an earlier release of the "
            "lakehouse (a run stopped before finishing it): finish it with that release "
            "(lakehouse run), then run this one"
        )
