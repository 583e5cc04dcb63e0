"""The dashboard's charts: pure functions from fetched figures to Plotly figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import plotly.express as px
import plotly.graph_objects as go

Measure = Literal["revenue", "purchases", "views", "carts"]
MEASURES: dict[Measure, str] = {
    "revenue": "Revenue",
    "purchases": "Purchases",
    "views": "Views",
    "carts": "Carts",
}


def _number(value: Any) -> float | int:
    return float(value) if isinstance(value, (Decimal, str)) else value


def _layout(figure: go.Figure, title: str, height: int = 380) -> go.Figure:
    figure.update_layout(
        title=title,
        height=height,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
    )
    return figure


def daily_line(daily: list[dict[str, Any]], measure: Measure) -> go.Figure:
    """The daily line for the chosen measure (one point per day with any activity)."""
    x = [point["event_date"] for point in daily]
    y = [_number(point[measure]) for point in daily]
    figure = px.line(x=x, y=y, markers=True, labels={"x": "Day", "y": MEASURES[measure]})
    return _layout(figure, f"Daily {MEASURES[measure].lower()}", height=320)


def top_bars(shares: list[dict[str, Any]]) -> go.Figure:
    """Top sub-categories by number of purchases, largest at the top."""
    names = [share["sub_category"] for share in shares]
    values = [_number(share["value"]) for share in shares]
    figure = px.bar(
        x=values, y=names, orientation="h", labels={"x": "Purchases", "y": "Sub-category"}
    )
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, "Top sub-categories by purchases")


def top_donut(shares: list[dict[str, Any]]) -> go.Figure:
    """Top sub-categories by sales, as a donut."""
    figure = px.pie(
        names=[share["sub_category"] for share in shares],
        values=[_number(share["value"]) for share in shares],
        hole=0.5,
    )
    figure.update_traces(sort=False, textinfo="percent+label")
    return _layout(figure, "Top sub-categories by sales")
