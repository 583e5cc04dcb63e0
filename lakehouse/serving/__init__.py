"""Serving gold over the Spark Thrift Server (HiveServer2 protocol: JDBC, ODBC, Tableau).

- :mod:`lakehouse.serving.views` - which tables are served, as views declared from
  :mod:`lakehouse.tables`;
- :mod:`lakehouse.serving.server` - typed server options and the serve loop;
- :mod:`lakehouse.serving.classpath` - jars the server JVM needs on its system class path;
- :mod:`lakehouse.serving.users` - the hashed users file behind password authentication;
- :mod:`lakehouse.serving.tableau` - the Tableau data source (``.tds``) writer.
"""
