"""Every table of the lakehouse, declared once: name, location, columns, keys, partitioning.

Jobs, tests, docs and the server all read these declarations. Locations are relative to the
lakehouse home; every table is a Delta table that any Delta reader can open by path.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.schema import SOURCE_COLUMNS


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""


@dataclass(frozen=True)
class Table:
    """A declared Delta table."""

    name: str
    """Qualified name, ``<layer>.<table>``, as the server exposes it."""
    location: str
    """Location relative to the lakehouse home."""
    columns: tuple[Column, ...]
    description: str
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    """Delta table properties (``TBLPROPERTIES``), set at creation and on older tables."""

    @property
    def schema(self) -> str:
        """``gold`` for ``gold.kpi_summary``."""
        return self.name.split(".", 1)[0]

    @property
    def short_name(self) -> str:
        """``kpi_summary`` for ``gold.kpi_summary``."""
        return self.name.split(".", 1)[1]

    @property
    def quoted_name(self) -> str:
        """``gold.kpi_summary`` with each part backquoted, for SQL text."""
        return f"`{self.schema}`.`{self.short_name}`"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def schema_ddl(self) -> str:
        """Column names and types only, for ``createDataFrame(rows, schema)``."""
        return ", ".join(f"`{c.name}` {c.type}" for c in self.columns)

    def ddl(self) -> str:
        """Column list in Spark DDL, e.g. ``a STRING COMMENT '...', b BIGINT``."""
        parts = []
        for c in self.columns:
            comment = c.comment.replace("'", "\\'")
            parts.append(f"`{c.name}` {c.type}" + (f" COMMENT '{comment}'" if comment else ""))
        return ", ".join(parts)


UPDATED_IN_PLACE = (("delta.enableDeletionVectors", "true"),)
"""For a large table that a MERGE updates row by row: deletion vectors mark the old versions
of the updated rows instead of rewriting every file that holds one (the keys of a batch are
spread over every file). Not worth it for a small table: writing the vectors costs more
Spark jobs than rewriting a few megabytes."""

_RAW_FIELDS = tuple(
    Column(name, "STRING", "raw field value as exported; empty field -> NULL")
    for name in SOURCE_COLUMNS
)
_LINEAGE = (
    Column("source_file", "STRING", "file path relative to the landing folder"),
    Column("line_number", "BIGINT", "1-based line number in the source file (header = line 1)"),
    Column("batch_id", "BIGINT", "bronze ingestion batch (see bronze.files)"),
    Column("run_id", "STRING", "id of the run that planned the batch"),
    Column("ingested_at", "TIMESTAMP", "when the batch was planned (UTC)"),
)

BRONZE_EVENTS = Table(
    name="bronze.events",
    location="bronze/events",
    columns=_RAW_FIELDS + _LINEAGE,
    keys=("source_file", "line_number"),
    description="One row per data line of every ingested file, raw string values.",
)

BRONZE_QUARANTINE = Table(
    name="quarantine.bronze_events",
    location="quarantine/bronze_events",
    columns=(
        Column("raw_line", "STRING", "the line as read (undecodable bytes shown as U+FFFD)"),
        Column("reason", "STRING", "why the line could not become a bronze row"),
        *_LINEAGE,
    ),
    keys=("source_file", "line_number"),
    description="Lines that could not be split into the nine export fields, with a reason.",
)

BRONZE_FILES = Table(
    name="bronze.files",
    location="bronze/files",
    columns=(
        Column("source_file", "STRING", "file path relative to the landing folder"),
        Column("batch_id", "BIGINT", "batch that ingested the file"),
        Column("status", "STRING", "ingested | rejected"),
        Column("size_bytes", "BIGINT"),
        Column("modified_at", "TIMESTAMP", "file modification time when planned"),
        Column("lines", "BIGINT", "lines read from the file"),
        Column("header_lines", "BIGINT", "1 if the file starts with the export header"),
        Column("rows", "BIGINT", "rows written to bronze.events"),
        Column("quarantined", "BIGINT", "lines written to quarantine.bronze_events"),
        Column("message", "STRING", "why a file was rejected"),
        Column("run_id", "STRING", "run that planned the batch"),
        Column("planned_at", "TIMESTAMP"),
        Column("completed_at", "TIMESTAMP"),
    ),
    keys=("source_file",),
    description="Ledger of landing files: each file once, ingested or rejected, with its counts.",
)

BRONZE_TABLES = (BRONZE_EVENTS, BRONZE_QUARANTINE, BRONZE_FILES)

_SILVER_LINEAGE = (
    Column("source_file", "STRING", "landing file the row came from"),
    Column("line_number", "BIGINT", "line in that file"),
    Column("bronze_batch", "BIGINT", "bronze batch the row was taken from"),
    Column("run_id", "STRING", "silver run that wrote the row"),
)

SILVER_EVENTS = Table(
    name="silver.events",
    location="silver/events",
    columns=(
        Column("event_time", "TIMESTAMP", "when the event happened (UTC)"),
        Column("event_date", "DATE", "UTC date of event_time"),
        Column("event_type", "STRING", "view | cart | remove_from_cart | purchase"),
        Column("product_id", "BIGINT"),
        Column("category_id", "BIGINT"),
        Column("category_code", "STRING", "as exported at the time of the event"),
        Column("brand", "STRING", "as exported at the time of the event"),
        Column("price", "DECIMAL(10,2)", "price at the time of the event"),
        Column("user_id", "BIGINT"),
        Column("user_session", "STRING"),
        *_SILVER_LINEAGE,
    ),
    keys=SOURCE_COLUMNS,
    partition_by=("event_date",),
    description="Deduplicated, typed events: one row per distinct (nine source fields).",
)

SILVER_PRODUCTS = Table(
    name="silver.products",
    location="silver/products",
    columns=(
        Column("product_id", "BIGINT"),
        Column("brand", "STRING", "brand of the product's latest event"),
        Column("category_id", "BIGINT"),
        Column("category_code", "STRING"),
        Column("main_category", "STRING", "first segment of category_code"),
        Column("sub_category", "STRING", "second segment of category_code"),
        Column("price", "DECIMAL(10,2)", "price of the latest event"),
        Column("first_seen", "TIMESTAMP"),
        Column("last_seen", "TIMESTAMP"),
    ),
    keys=("product_id",),
    description="One row per product with its current attributes (latest event wins).",
)

SILVER_USER_SESSIONS = Table(
    name="silver.user_sessions",
    location="silver/user_sessions",
    columns=(
        Column("user_session", "STRING"),
        Column("user_id", "BIGINT"),
        Column("session_start", "TIMESTAMP"),
        Column("session_end", "TIMESTAMP"),
        Column("events", "BIGINT"),
        Column("views", "BIGINT"),
        Column("carts", "BIGINT"),
        Column("removals", "BIGINT"),
        Column("purchases", "BIGINT"),
        Column("purchased_value", "DECIMAL(18,2)", "sum of price over purchases"),
    ),
    keys=("user_session",),
    description="One row per non-null user_session, updated as its events arrive.",
    properties=UPDATED_IN_PLACE,
)

SILVER_QUARANTINE = Table(
    name="quarantine.silver_events",
    location="quarantine/silver_events",
    columns=(
        *_RAW_FIELDS,
        Column("failed_rules", "STRING", "comma-separated ids of every drop rule broken"),
        *_SILVER_LINEAGE,
    ),
    keys=("source_file", "line_number"),
    description="Bronze rows that broke a drop rule of expectations/silver_events.json.",
)

SILVER_TABLES = (
    SILVER_EVENTS,
    SILVER_PRODUCTS,
    SILVER_USER_SESSIONS,
    SILVER_QUARANTINE,
)

DQ_RULE_RESULTS = Table(
    name="dq.rule_results",
    location="dq/rule_results",
    columns=(
        Column("run_id", "STRING"),
        Column("layer", "STRING"),
        Column("batch", "BIGINT", "silver batch checked"),
        Column("suite", "STRING"),
        Column("rule_id", "STRING"),
        Column("severity", "STRING", "drop | warn | fail"),
        Column("table_name", "STRING"),
        Column("column_name", "STRING"),
        Column("expectation_type", "STRING"),
        Column("engine", "STRING", "spark (the enforcing pass) | great_expectations"),
        Column("rows_evaluated", "BIGINT"),
        Column("failed_rows", "BIGINT"),
        Column("success", "BOOLEAN"),
        Column("checked_at", "TIMESTAMP"),
    ),
    keys=("run_id", "batch", "rule_id", "engine"),
    description="Per-run, per-rule data-quality counts.",
)

_DIMENSIONS = (
    Column("brand", "STRING", "brand as exported with the event (NULL kept as its own value)"),
    Column("main_category", "STRING", "first segment of category_code"),
    Column("sub_category", "STRING", "second segment of category_code"),
)
_MEASURES = (
    Column("revenue", "DECIMAL(18,2)", "sum of price over purchase events"),
    Column("purchases", "BIGINT", "purchase events"),
    Column("views", "BIGINT", "view events"),
    Column("carts", "BIGINT", "cart events"),
)

GOLD_ORDER_LINES = Table(
    name="gold.order_lines",
    location="gold/order_lines",
    columns=(
        Column("event_time", "TIMESTAMP"),
        Column("event_date", "DATE"),
        Column("user_session", "STRING", "the order (NULL: a purchase outside any order)"),
        Column("user_id", "BIGINT"),
        Column("product_id", "BIGINT"),
        Column("brand", "STRING"),
        Column("category_code", "STRING"),
        Column("main_category", "STRING"),
        Column("sub_category", "STRING"),
        Column("price", "DECIMAL(10,2)", "price paid (price at the time of the purchase)"),
    ),
    partition_by=("event_date",),
    description="One row per deduplicated purchase event: count distinct orders for any filter.",
)

GOLD_DAILY_PRODUCT_SALES = Table(
    name="gold.daily_product_sales",
    location="gold/daily_product_sales",
    columns=(
        Column("event_date", "DATE"),
        Column("product_id", "BIGINT"),
        Column("category_code", "STRING"),
        *_DIMENSIONS,
        *_MEASURES,
    ),
    keys=("event_date", "product_id", "brand", "category_code"),
    partition_by=("event_date",),
    description="Per day and product (and the event's brand/category): the base of every total.",
)

GOLD_DAILY_BRAND_SALES = Table(
    name="gold.daily_brand_sales",
    location="gold/daily_brand_sales",
    columns=(
        Column("event_date", "DATE"),
        *_DIMENSIONS,
        Column("revenue", "DECIMAL(18,2)"),
        Column("purchases", "BIGINT"),
        Column("orders", "BIGINT", "distinct non-null sessions with a purchase in this group"),
        Column("views", "BIGINT"),
        Column("carts", "BIGINT"),
    ),
    keys=("event_date", "brand", "main_category", "sub_category"),
    partition_by=("event_date",),
    description="Daily sales per brand and category: the dashboard's line, bar and donut.",
)

GOLD_PRODUCT_PERFORMANCE = Table(
    name="gold.product_performance",
    location="gold/product_performance",
    columns=(
        Column("product_id", "BIGINT"),
        Column("brand", "STRING", "current brand (silver.products)"),
        Column("category_code", "STRING"),
        Column("main_category", "STRING"),
        Column("sub_category", "STRING"),
        *_MEASURES,
        Column("conversion_rate", "DOUBLE", "purchases / views (NULL without views)"),
    ),
    keys=("product_id",),
    description="Totals per product: rank by revenue for the highest-grossing products.",
)

GOLD_BRAND_PERFORMANCE = Table(
    name="gold.brand_performance",
    location="gold/brand_performance",
    columns=(
        Column("brand", "STRING"),
        Column("revenue", "DECIMAL(18,2)"),
        Column("purchases", "BIGINT"),
        Column("orders", "BIGINT", "distinct non-null sessions that bought this brand"),
        Column(
            "order_revenue",
            "DECIMAL(18,2)",
            "revenue of this brand's purchases in orders (with a session): AOV = this / orders",
        ),
        Column("views", "BIGINT"),
        Column("carts", "BIGINT"),
        Column("conversion_rate", "DOUBLE", "brand purchases / brand views (volume-weighted)"),
        Column(
            "avg_product_conversion",
            "DOUBLE",
            "original definition: mean over products with >= 1 view and >= 1 purchase of "
            "purchases / views",
        ),
        Column("products", "BIGINT", "distinct products with events of this brand"),
    ),
    keys=("brand",),
    description="Totals per brand (NULL brand is its own row).",
)

GOLD_ORDERS = Table(
    name="gold.orders",
    location="gold/orders",
    columns=(
        Column("user_session", "STRING"),
        Column("user_id", "BIGINT"),
        Column("order_date", "DATE", "date of the first purchase"),
        Column("items", "BIGINT", "purchase events"),
        Column("revenue", "DECIMAL(18,2)"),
    ),
    keys=("user_session",),
    description="One row per order: a distinct non-null session with at least one purchase.",
)

GOLD_KPI_SUMMARY = Table(
    name="gold.kpi_summary",
    location="gold/kpi_summary",
    columns=(
        Column("revenue", "DECIMAL(18,2)", "all purchases, with or without a session"),
        Column("orders", "BIGINT"),
        Column("aov", "DECIMAL(18,2)", "revenue of orders / orders"),
        Column("items_per_order", "DOUBLE", "purchases in orders / orders"),
        Column("purchases", "BIGINT"),
        Column("views", "BIGINT"),
        Column("carts", "BIGINT"),
        Column("sessions", "BIGINT", "distinct non-null sessions"),
        Column("users", "BIGINT", "distinct user_id"),
        Column("first_event", "TIMESTAMP"),
        Column("last_event", "TIMESTAMP"),
    ),
    description="The store's headline figures, one row.",
)

GOLD_TABLES = (
    GOLD_ORDER_LINES,
    GOLD_DAILY_PRODUCT_SALES,
    GOLD_DAILY_BRAND_SALES,
    GOLD_PRODUCT_PERFORMANCE,
    GOLD_BRAND_PERFORMANCE,
    GOLD_ORDERS,
    GOLD_KPI_SUMMARY,
)

OPS_RUN_LOG = Table(
    name="ops.run_log",
    location="ops/run_log",
    columns=(
        Column("run_id", "STRING"),
        Column("layer", "STRING", "bronze | silver | gold; '*' for a run that stopped unfinished"),
        Column(
            "status",
            "STRING",
            "succeeded | rejected_input (finished, some input rejected) | failed | interrupted "
            "(killed; found by the next run)",
        ),
        Column("started_at", "TIMESTAMP"),
        Column("ended_at", "TIMESTAMP"),
        Column("seconds", "DOUBLE"),
        Column("input_versions", "STRING", "table=version of each input, before the layer ran"),
        Column("output_versions", "STRING", "table=version of each output, after the layer ran"),
        Column("rows_read", "BIGINT", "bronze: lines read; silver: bronze rows taken"),
        Column("rows_written", "BIGINT", "bronze: rows added; silver: event rows added"),
        Column("rows_quarantined", "BIGINT"),
        Column("rows_duplicates", "BIGINT", "silver: duplicates dropped"),
        Column("counts", "STRING", "every count the layer reported, name=value"),
        Column("error", "STRING", "why it failed, or the input it rejected"),
        Column("host", "STRING"),
        Column("pid", "BIGINT"),
        Column(
            "batch",
            "BIGINT",
            "silver, gold: the batch this row completes (the layers' ledger); NULL when the "
            "layer completed none (nothing new, a failure, a reprocess) and for bronze",
        ),
        Column("input_from", "BIGINT", "first input batch the batch took (silver: bronze's)"),
        Column("input_to", "BIGINT", "last input batch the batch took (gold: silver's)"),
        Column("rebuild", "BOOLEAN", "the batch rebuilt the layer from all of its input"),
    ),
    keys=("run_id", "layer", "batch"),
    description="One row per layer per run: what ran, when, with which result; the completed "
    "batches of silver and gold.",
)

ALL_TABLES: tuple[Table, ...] = (
    *BRONZE_TABLES, *SILVER_TABLES, DQ_RULE_RESULTS, *GOLD_TABLES, OPS_RUN_LOG,
)  # fmt: skip

SILVER_INPUTS: tuple[Table, ...] = (BRONZE_EVENTS,)
SILVER_OUTPUTS: tuple[Table, ...] = (*SILVER_TABLES, DQ_RULE_RESULTS)
GOLD_INPUTS: tuple[Table, ...] = (SILVER_EVENTS, SILVER_PRODUCTS, SILVER_USER_SESSIONS)
"""What each layer reads and writes (the run log records their versions)."""

SERVED_TABLES: tuple[Table, ...] = (*GOLD_TABLES, DQ_RULE_RESULTS, OPS_RUN_LOG)
"""What the Thrift server exposes (schemas ``gold``, ``dq`` and ``ops``)."""
