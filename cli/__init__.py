"""Sentinel's command-line interface: a thin client of the control plane's HTTP API."""
