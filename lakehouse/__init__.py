"""Clickstream lakehouse: shared library (config, session, tables, Delta I/O) and CLI."""

__version__ = "0.1.0"
