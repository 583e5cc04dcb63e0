"""The serving pieces that need no server: views, users file, options, Tableau files."""

from __future__ import annotations

import socket
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest

from lakehouse.dashboard.queries import dashboard_queries, sql_string
from lakehouse.delta_io import ensure_table, table_location
from lakehouse.serving.cache import GoldCache
from lakehouse.serving.server import (
    Auth,
    ServeError,
    ServeOptions,
    Transport,
    default_users_file,
)
from lakehouse.serving.tableau import write_datasources
from lakehouse.serving.users import (
    hash_password,
    read_users,
    remove_user,
    set_user,
    verify_password,
)
from lakehouse.serving.views import ViewState, sync_views
from lakehouse.tables import GOLD_KPI_SUMMARY, SERVED_TABLES
from tests.helpers import lakehouse_cmd
from tests.serving.clients import free_port


def test_views_are_placeholders_until_the_table_exists_then_live(spark, home):
    states: dict = {}
    assert set(sync_views(spark, home, states)) == {t.name for t in SERVED_TABLES}
    for table in SERVED_TABLES:
        described = spark.sql(f"DESCRIBE {table.name}").collect()
        assert [(r.col_name, r.data_type.upper()) for r in described] == [
            (c.name, c.type) for c in table.columns
        ]
    assert spark.sql("SELECT COUNT(*) FROM gold.kpi_summary").collect()[0][0] == 0
    assert sync_views(spark, home, states) == []

    location = table_location(home, GOLD_KPI_SUMMARY)
    ensure_table(spark, GOLD_KPI_SUMMARY, location)
    spark.sql(
        f"INSERT INTO delta.`{location}` (revenue, orders) VALUES (CAST(12.50 AS DECIMAL(18,2)), 3)"
    )
    assert sync_views(spark, home, states) == ["gold.kpi_summary"]
    assert states["gold.kpi_summary"] is ViewState.LIVE
    assert spark.sql("SELECT orders FROM gold.kpi_summary").collect()[0][0] == 3

    spark.sql("DROP VIEW gold.kpi_summary")  # a client may drop it: the next sync restores it
    assert sync_views(spark, home, states) == ["gold.kpi_summary"]
    assert spark.sql("SELECT revenue FROM gold.kpi_summary").collect()[0][0] == 12.5


def _reads_memory(spark, sql: str) -> bool:
    return "Scan In-memory table" in spark.sql(sql)._jdf.queryExecution().executedPlan().toString()


def test_gold_cache_holds_live_tables_and_recaches_new_versions(spark, home):
    states: dict = {}
    cache = GoldCache(tables=(GOLD_KPI_SUMMARY,))
    sync_views(spark, home, states)
    try:
        assert cache.refresh(spark, home, states) == []  # a placeholder is not cached
        location = table_location(home, GOLD_KPI_SUMMARY)
        ensure_table(spark, GOLD_KPI_SUMMARY, location)
        spark.sql(f"INSERT INTO delta.`{location}` (orders) VALUES (3)")
        cache.forget(sync_views(spark, home, states))
        assert cache.refresh(spark, home, states) == ["gold.kpi_summary"]
        assert spark.catalog.isCached("gold.kpi_summary")
        query = "SELECT SUM(orders) FROM gold.kpi_summary"
        assert _reads_memory(spark, query)
        assert cache.refresh(spark, home, states) == []  # same version: nothing to do

        spark.sql(f"INSERT INTO delta.`{location}` (orders) VALUES (5)")
        assert cache.refresh(spark, home, states) == ["gold.kpi_summary"]
        assert cache.cached == {"gold.kpi_summary": 2}
        assert spark.sql(query).collect()[0][0] == 8
        assert _reads_memory(spark, query)

        spark.sql("DROP VIEW gold.kpi_summary")  # replacing a view drops its cache
        cache.forget(sync_views(spark, home, states))
        assert cache.refresh(spark, home, states) == ["gold.kpi_summary"]
        assert spark.catalog.isCached("gold.kpi_summary")
    finally:
        spark.catalog.clearCache()


def test_users_file_keeps_hashes_only(tmp_path):
    path = tmp_path / "serving" / "users"
    assert set_user(path, "alice", "pässword 1") is True
    assert set_user(path, "alice", "second") is False
    text = path.read_text()
    assert "second" not in text and "pässword" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = read_users(path)["alice"]
    assert verify_password("second", stored) and not verify_password("pässword 1", stored)
    with pytest.raises(ValueError, match="invalid user name"):
        set_user(path, "bad:name", "x")
    assert remove_user(path, "alice") and read_users(path) == {}


def test_new_hashes_use_600k_iterations_and_old_ones_are_upgraded_when_set(tmp_path):
    path = tmp_path / "users"
    path.write_text(f"carol:{hash_password('old one', iterations=310_000)}\n")
    old = read_users(path)["carol"]
    assert old.split(":")[1] == "310000" and verify_password("old one", old)  # still accepted
    assert set_user(path, "carol", "new one") is False
    new = read_users(path)["carol"]
    assert int(new.split(":")[1]) >= 600_000 and verify_password("new one", new)


def test_unsafe_or_impossible_options_are_refused_before_starting(home, tmp_path):
    with pytest.raises(ServeError, match="without password authentication"):
        ServeOptions(host="0.0.0.0").validate(home)
    with pytest.raises(ServeError, match="needs a users file"):
        ServeOptions(auth=Auth.PASSWORD).validate(home)
    with pytest.raises(ServeError, match="keystore not found"):
        ServeOptions(tls_keystore=tmp_path / "missing.p12").validate(home)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match="cannot listen"):
            ServeOptions(port=port).validate(home)
    users = tmp_path / "users"
    set_user(users, "alice", "a password")
    with pytest.raises(ServeError, match="without TLS: passwords would cross the network"):
        ServeOptions(host="0.0.0.0", auth=Auth.PASSWORD, users_file=users).validate(home)
    ServeOptions(
        host="0.0.0.0", auth=Auth.PASSWORD, users_file=users, allow_cleartext_passwords=True,
        port=free_port(),
    ).validate(home)  # fmt: skip
    with pytest.raises(ServeError, match="--refresh-seconds must be more than 0"):
        ServeOptions(refresh_seconds=0).validate(home)
    ServeOptions(host="0.0.0.0", allow_insecure_bind=True, port=free_port()).validate(home)
    ServeOptions(host="::1", port=free_port()).validate(home)  # IPv6 loopback


def test_serve_refuses_a_public_address_with_a_clear_message(home):
    result = subprocess.run(
        lakehouse_cmd("serve", "--home", home.home, "--host", "0.0.0.0"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without password authentication" in result.stderr
    assert "Traceback" not in result.stderr
    set_user(default_users_file(home), "alice", "a password")
    cleartext = subprocess.run(
        lakehouse_cmd("serve", "--home", home.home, "--host", "0.0.0.0", "--auth", "password"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cleartext.returncode == 2
    assert cleartext.stderr.count("\n") == 1 and "Traceback" not in cleartext.stderr
    assert "refusing --auth password on 0.0.0.0 without TLS" in cleartext.stderr


def test_the_keystore_password_is_no_spark_conf_and_not_in_repr(home, tmp_path):
    options = ServeOptions(
        tls_keystore=tmp_path / "server.p12", tls_keystore_password="s3cret", auth=Auth.PASSWORD
    )
    # Spark confs and JVM options end up on spark-submit's command line; neither may hold it.
    passed = {**options.hive_conf(), **options.java_properties(home)}
    assert "hive.server2.use.SSL" in str(passed)
    assert not [k for k, v in passed.items() if "s3cret" in v or "password" in k]
    assert options.secret_hadoop_conf() == {"hive.server2.keystore.password": "s3cret"}
    assert "s3cret" not in repr(options)


def test_jdbc_urls_match_the_settings():
    assert ServeOptions().jdbc_url() == "jdbc:hive2://127.0.0.1:10000/gold;auth=noSasl"
    http = ServeOptions(transport=Transport.HTTP, auth=Auth.USERNAME)
    assert http.jdbc_url() == (
        "jdbc:hive2://127.0.0.1:10001/gold;transportMode=http;httpPath=cliservice"
    )


def test_gold_cache_is_on_by_default_and_off_with_no_cache():
    from lakehouse.cli import _serve_options, build_parser

    default = _serve_options(build_parser().parse_args(["serve"]))
    assert default.cache_gold
    assert "gold in memory, re-cached within 5 s" in "\n".join(default.describe())
    off = _serve_options(build_parser().parse_args(["serve", "--no-cache"]))
    assert not off.cache_gold
    assert "off (every query reads the Delta tables)" in "\n".join(off.describe())


def test_the_endpoint_is_read_only_unless_turned_off():
    from lakehouse.cli import _serve_options, build_parser

    default = _serve_options(build_parser().parse_args(["serve"]))
    assert default.read_only
    extensions = default.extension_conf()["spark.sql.extensions"].split(",")
    assert extensions == [
        "io.delta.sql.DeltaSparkSessionExtension",
        "lakehouse.serving.ReadOnlySql",
    ]
    assert "SQL         read-only" in "\n".join(default.describe())
    off = _serve_options(build_parser().parse_args(["serve", "--read-only", "off"]))
    assert off.extension_conf()["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert "ANY statement (--read-only off)" in "\n".join(off.describe())


def test_tableau_data_sources_describe_every_served_table(tmp_path):
    options = ServeOptions(transport=Transport.HTTP, auth=Auth.PASSWORD, port=10443)
    files = write_datasources(tmp_path, options, username="analyst")
    assert {f.name for f in files} == {f"{t.name}.tds" for t in SERVED_TABLES}
    for table in SERVED_TABLES:
        root = ET.parse(tmp_path / f"{table.name}.tds").getroot()
        connection = root.find("./connection/named-connections/named-connection/connection")
        assert connection is not None
        assert connection.get("class") == "spark"
        assert (connection.get("port"), connection.get("transport")) == ("10443", "http")
        assert connection.get("authentication") == "auth-user-pass"
        assert "password" not in connection.attrib
        relation = root.find("./connection/relation")
        assert relation is not None
        assert relation.get("table") == f"[{table.schema}].[{table.short_name}]"
        names = [r.findtext("remote-name") for r in root.iter("metadata-record")]
        assert names == table.column_names


def test_dashboard_queries_quote_brand_names(spark, home):
    sync_views(spark, home, {})
    assert sql_string("o'neill\\x") == "'o\\'neill\\\\x'"
    for sql in dashboard_queries("o'neill").values():
        spark.sql(sql).collect()  # parses and runs against the placeholder views
