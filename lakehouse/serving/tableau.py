"""Tableau data sources (``.tds``) for the served tables, one file per table.

Each file holds a Spark SQL connection to the Thrift server (host, port, transport, the
authentication Tableau should ask for, ``USE <schema>`` as Initial SQL) and the table's columns
with Tableau types and roles, so a workbook opens with measures and dimensions already right.
Passwords are never written: Tableau asks for them when the file is opened.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lakehouse.serving.server import Auth, ServeOptions
from lakehouse.tables import SERVED_TABLES, Table

# Tableau's values for the Spark SQL connector's authentication field.
_AUTHENTICATION = {
    "NOSASL": "auth-none",
    "NONE": "auth-user",
    "CUSTOM": "auth-user-pass",
}


def tableau_type(spark_type: str) -> tuple[str, str]:
    """(local-type, role) for a Spark SQL type: measures are numbers, the rest dimensions."""
    base = spark_type.upper().split("(")[0]
    if base in ("BIGINT", "INT", "SMALLINT", "TINYINT"):
        return "integer", "measure"
    if base in ("DOUBLE", "FLOAT", "DECIMAL"):
        return "real", "measure"
    if base == "DATE":
        return "date", "dimension"
    if base in ("TIMESTAMP", "TIMESTAMP_NTZ"):
        return "datetime", "dimension"
    if base == "BOOLEAN":
        return "boolean", "dimension"
    return "string", "dimension"


def datasource(table: Table, options: ServeOptions, username: str = "") -> ET.ElementTree:
    """The ``.tds`` document for ``table`` served with ``options``."""
    host = options.connect_host
    root = ET.Element(
        "datasource",
        {
            "formatted-name": f"lakehouse {table.name}",
            "inline": "true",
            "version": "18.1",
            "xmlns:user": "http://www.tableausoftware.com/xml/user",
        },
    )
    federated = ET.SubElement(root, "connection", {"class": "federated"})
    named = ET.SubElement(
        ET.SubElement(federated, "named-connections"),
        "named-connection",
        {"caption": f"{host}:{options.effective_port}", "name": "lakehouse"},
    )
    ET.SubElement(
        named,
        "connection",
        {
            "class": "spark",
            "server": host,
            "port": str(options.effective_port),
            "schema": table.schema,
            "dbname": "",
            "transport": options.transport.value,
            "http-path": "cliservice" if options.transport.value == "http" else "",
            "authentication": _AUTHENTICATION[options.hive_auth],
            "username": username if options.auth is not Auth.NONE else "",
            "sslmode": "require" if options.tls_keystore else "",
            "one-time-sql": f"USE `{table.schema}`",
        },
    )
    ET.SubElement(
        federated,
        "relation",
        {
            "connection": "lakehouse",
            "name": table.short_name,
            "table": f"[{table.schema}].[{table.short_name}]",
            "type": "table",
        },
    )
    records = ET.SubElement(federated, "metadata-records")
    for ordinal, column in enumerate(table.columns, start=1):
        local_type, _ = tableau_type(column.type)
        record = ET.SubElement(records, "metadata-record", {"class": "column"})
        for tag, text in (
            ("remote-name", column.name),
            ("local-name", f"[{column.name}]"),
            ("parent-name", f"[{table.short_name}]"),
            ("remote-alias", column.name),
            ("ordinal", str(ordinal)),
            ("local-type", local_type),
            ("contains-null", "true"),
        ):
            ET.SubElement(record, tag).text = text
    for column in table.columns:
        local_type, role = tableau_type(column.type)
        attributes = {
            "name": f"[{column.name}]",
            "datatype": local_type,
            "role": role,
            "type": "quantitative" if role == "measure" else "nominal",
        }
        if column.comment:
            attributes["caption"] = column.name.replace("_", " ").title()
        element = ET.SubElement(root, "column", attributes)
        if column.comment:
            desc = ET.SubElement(ET.SubElement(element, "desc"), "formatted-text")
            ET.SubElement(desc, "run").text = column.comment
    ET.indent(root)
    return ET.ElementTree(root)


def write_datasources(
    out: Path,
    options: ServeOptions,
    username: str = "",
    tables: tuple[Table, ...] = SERVED_TABLES,
) -> list[Path]:
    """Write ``<schema>.<table>.tds`` for every served table into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        path = out / f"{table.name}.tds"
        datasource(table, options, username).write(path, encoding="utf-8", xml_declaration=True)
        written.append(path)
    return written
