"""``lakehouse dashboard``: the sales performance dashboard as a web page (Dash + Plotly).

It reads gold only through the Thrift server, with the SQL a Tableau workbook sends
(:mod:`lakehouse.dashboard.queries`), so what it shows is what any BI client connected to the
same endpoint sees. Every page load, brand pick and refresh tick re-queries the server: figures
follow pipeline runs without a restart.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, dcc, html
from flask import abort, send_from_directory

from lakehouse.dashboard.data import ThriftReader, load_brands, load_quality, load_view
from lakehouse.dashboard.figures import MEASURES, daily_line, top_bars, top_donut
from lakehouse.dashboard.login import install_login
from lakehouse.dashboard.options import DashboardOptions

log = logging.getLogger("lakehouse.dashboard")

ALL_BRANDS = "__all__"
DATA_DOCS_ROUTE = "/data-docs/"


def data_docs_folder(home: str) -> Path | None:
    """Where silver publishes great-expectations Data Docs for a local home."""
    if "://" in home:
        return None
    return Path(home) / "dq" / "gx" / "uncommitted" / "data_docs" / "local_site"


def _card(label: str, value_id: str) -> html.Div:
    return html.Div(
        [html.Div(label, className="card-label"), html.Div("…", id=value_id, className="value")],
        className="card",
    )


def _layout(refresh_seconds: float) -> html.Div:
    return html.Div(
        [
            html.H1("Sales performance"),
            html.Div(
                [
                    html.Label("Brand", htmlFor="brand"),
                    dcc.Dropdown(
                        id="brand",
                        options=[{"label": "All brands", "value": ALL_BRANDS}],
                        value=ALL_BRANDS,
                        clearable=False,
                        style={"width": "320px"},
                    ),
                    html.Label("Measure", htmlFor="measure"),
                    dcc.RadioItems(
                        id="measure",
                        options=[{"label": label, "value": key} for key, label in MEASURES.items()],
                        value="revenue",
                        inline=True,
                    ),
                ],
                className="controls",
            ),
            html.H2("All brands", id="showing"),
            html.Div(
                [
                    _card("Total revenue", "card-revenue"),
                    _card("Orders", "card-orders"),
                    _card("Average order value", "card-aov"),
                ],
                className="cards",
            ),
            dcc.Graph(id="daily", config={"displaylogo": False}),
            html.Div(
                [
                    dcc.Graph(id="top-purchases", config={"displaylogo": False}),
                    dcc.Graph(id="top-sales", config={"displaylogo": False}),
                ],
                className="pair",
            ),
            html.H2("Data quality (latest silver run)"),
            html.Div(id="quality"),
            html.P(id="status", className="status"),
            dcc.Store(id="view"),
            dcc.Interval(id="tick", interval=int(refresh_seconds * 1000)),
        ],
        className="page",
    )


def _money(value: str | None) -> str:
    return "n/a" if value is None else f"{float(value):,.2f}"


def _quality_table(rules: list[dict[str, Any]], docs_available: bool) -> list[Any]:
    link = (
        html.A("Open the Data Docs", href=DATA_DOCS_ROUTE + "index.html", target="_blank")
        if docs_available
        else html.Span("No Data Docs published for this home.")
    )
    if not rules:
        return [html.P("No data-quality results yet: run the silver layer."), link]
    header = ["rule", "severity", "table", "column", "engine", "rows checked", "failed", "ok"]
    body = [
        html.Tr(
            [
                html.Td(r["rule_id"]),
                html.Td(r["severity"]),
                html.Td(r["table_name"] or ""),
                html.Td(r["column_name"] or ""),
                html.Td(r["engine"]),
                html.Td(f"{r['rows_evaluated']:,}", className="num"),
                html.Td(f"{r['failed_rows']:,}", className="num"),
                html.Td("yes" if r["success"] else "no"),
            ],
            className="failed" if r["failed_rows"] else "",
        )
        for r in rules
    ]
    first = rules[0]
    return [
        html.P(f"Run {first['run_id']}, checked at {first['checked_at']} UTC. ", className="run"),
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
            id="quality-table",
        ),
        link,
    ]


def create_app(reader: ThriftReader, data_docs: Path | None, refresh_seconds: float) -> dash.Dash:
    """The Dash app; ``reader`` runs queries against the Thrift server."""
    app = dash.Dash(__name__, title="Sales performance", update_title=None)
    app.layout = _layout(refresh_seconds)
    source = reader.endpoint.describe()

    @app.server.route(DATA_DOCS_ROUTE + "<path:name>")
    def _data_docs(name: str) -> Any:
        if data_docs is None or not data_docs.is_dir():
            abort(404)
        return send_from_directory(data_docs, name)

    def unreachable(error: Exception) -> str:
        log.warning("query through %s failed: %s", source, error)
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        return f"Cannot read from the Thrift server at {source}: {first_line}"

    @app.callback(Output("brand", "options"), Input("tick", "n_intervals"))
    def _brands(_tick: int | None) -> Any:
        try:
            brands = reader(load_brands)
        except Exception:  # the status line reports it (from the view callback)
            return dash.no_update
        return [{"label": "All brands", "value": ALL_BRANDS}] + [
            {"label": b, "value": b} for b in brands
        ]

    @app.callback(
        Output("view", "data"),
        Output("status", "children"),
        Input("brand", "value"),
        Input("tick", "n_intervals"),
    )
    def _view(brand: str | None, _tick: int | None) -> Any:
        chosen = None if brand in (None, ALL_BRANDS) else brand
        try:
            view = reader(lambda run: load_view(run, chosen))
        except Exception as error:
            return dash.no_update, unreachable(error)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return view.to_json(), f"Read through {source} at {now} UTC."

    @app.callback(
        Output("showing", "children"),
        Output("card-revenue", "children"),
        Output("card-orders", "children"),
        Output("card-aov", "children"),
        Output("daily", "figure"),
        Output("top-purchases", "figure"),
        Output("top-sales", "figure"),
        Input("view", "data"),
        Input("measure", "value"),
    )
    def _render(view: dict[str, Any] | None, measure: str) -> Any:
        if view is None:
            raise dash.exceptions.PreventUpdate
        cards = view["cards"]
        return (
            view["brand"] or "All brands",
            _money(cards["revenue"]),
            f"{cards['orders']:,}",
            _money(cards["aov"]),
            daily_line(view["daily"], measure),
            top_bars(view["top_by_purchases"]),
            top_donut(view["top_by_sales"]),
        )

    @app.callback(Output("quality", "children"), Input("tick", "n_intervals"))
    def _quality(_tick: int | None) -> Any:
        try:
            rules = reader(load_quality)
        except Exception as error:
            return html.P(unreachable(error))
        docs = data_docs is not None and (data_docs / "index.html").is_file()
        return _quality_table([asdict(rule) for rule in rules], docs)

    return app


def serve_app(app: dash.Dash, options: DashboardOptions) -> None:
    """Serve ``app`` with waitress (a production WSGI server with a bounded pool of
    ``options.threads``) until SIGTERM or Ctrl-C, behind a login when the options need one."""
    from waitress import create_server

    if options.needs_login:
        assert options.users_file is not None  # validate() saw users in it
        install_login(app.server, options.users_file)
    host = f"[{options.host}]" if ":" in options.host else options.host
    server = create_server(app.server, listen=f"{host}:{options.port}", threads=options.threads)
    try:
        server.run()
    finally:
        server.close()
