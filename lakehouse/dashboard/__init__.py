"""The sales performance dashboard in a browser, reading gold through the Thrift server."""
