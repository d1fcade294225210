"""Scoring: model checks, metrics, statistics, report.json, REPORT.md, README numbers."""
