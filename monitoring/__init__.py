"""Prometheus metrics, health and readiness, tracing, feedback and PII controls."""
