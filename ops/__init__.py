"""The library the collector, the dashboard and the `python -m ops` commands share."""

__version__ = "0.1.0"
