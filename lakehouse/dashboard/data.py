"""What the dashboard shows, fetched through the Thrift server with the queries of
:mod:`lakehouse.dashboard.queries` (the same ones a Tableau workbook sends)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from lakehouse.dashboard.queries import brands_sql, dashboard_queries, quality_sql
from lakehouse.serving.client import Endpoint, fetch

Fetch = Callable[[str], list[tuple]]


@dataclass(frozen=True)
class Cards:
    revenue: Decimal
    orders: int
    aov: Decimal | None
    """``None`` when there are no orders."""


@dataclass(frozen=True)
class DailyPoint:
    event_date: str
    revenue: Decimal
    purchases: int
    views: int
    carts: int


@dataclass(frozen=True)
class Share:
    sub_category: str
    value: Decimal | int


@dataclass(frozen=True)
class BrandView:
    """Everything one brand's (or all brands', ``brand=None``) view of the dashboard shows."""

    brand: str | None
    cards: Cards
    daily: list[DailyPoint]
    top_by_purchases: list[Share]
    top_by_sales: list[Share]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (decimals as strings) for the browser-side store."""
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    severity: str
    table_name: str | None
    column_name: str | None
    engine: str
    rows_evaluated: int
    failed_rows: int
    success: bool
    run_id: str
    checked_at: str


def load_brands(run: Fetch) -> list[str]:
    """Brands with sales, best-selling first."""
    return [brand for brand, _revenue in run(brands_sql())]


def load_view(run: Fetch, brand: str | None) -> BrandView:
    queries = dashboard_queries(brand)
    [(revenue, orders, aov)] = run(queries["cards"]) or [(Decimal(0), 0, None)]
    return BrandView(
        brand=brand,
        cards=Cards(_decimal(revenue) or Decimal("0.00"), int(orders or 0), _decimal(aov)),
        daily=[
            DailyPoint(str(day), _decimal(rev) or Decimal("0.00"), int(p), int(v), int(c))
            for day, rev, p, v, c in sorted(run(queries["daily"]), key=lambda row: row[0])
        ],
        top_by_purchases=[Share(name, int(n)) for name, n in run(queries["top_by_purchases"])],
        top_by_sales=[Share(name, _decimal(v)) for name, v in run(queries["top_by_sales"])],
    )


def load_quality(run: Fetch) -> list[RuleCount]:
    """The latest checked run's per-rule counts (empty before the first silver run)."""
    return [
        RuleCount(rule, sev, table, column, engine, int(rows), int(failed), bool(ok), run_id, at)
        for rule, sev, table, column, engine, rows, failed, ok, run_id, at in run(quality_sql())
    ]


class ThriftReader:
    """Opens one connection per call, so concurrent page requests never share a session."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def __call__(self, work: Callable[[Fetch], Any]) -> Any:
        connection = self.endpoint.connect()
        try:
            return work(lambda sql: fetch(connection, sql))
        finally:
            connection.close()


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
