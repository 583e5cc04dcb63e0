"""Event dates in SQL: an inclusive range (``--dates 2019-11-01..2019-11-03``), a set of days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


def dates_in(dates: Iterable[date], column: str = "event_date") -> str:
    """A SQL predicate: ``column`` is one of ``dates`` (a partition filter on ``event_date``)."""
    return f"{column} IN (" + ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(dates)) + ")"


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"{self.last} is before {self.first}")

    @classmethod
    def parse(cls, text: str) -> DateRange:
        """``2019-11-01..2019-11-03``, or one day: ``2019-11-01``."""
        first, _, last = text.strip().partition("..")
        return cls(date.fromisoformat(first), date.fromisoformat(last or first))

    def days(self) -> list[date]:
        return [self.first + timedelta(n) for n in range((self.last - self.first).days + 1)]

    def sql(self, column: str) -> str:
        """A SQL predicate on a DATE column (no BETWEEN: Delta's replaceWhere check fails on
        it in Spark 4.1, "Invalid call to nullable on unresolved object")."""
        return f"{column} >= DATE'{self.first}' AND {column} <= DATE'{self.last}'"

    def sql_on_text(self, column: str) -> str:
        """The same predicate on a raw ``yyyy-MM-dd ...`` text column (bronze, quarantine)."""
        day = f"substring({column}, 1, 10)"
        return f"{day} >= '{self.first}' AND {day} <= '{self.last}'"

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"
