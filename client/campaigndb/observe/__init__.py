"""Watching a client: call statistics, metrics recording, health, Prometheus."""
