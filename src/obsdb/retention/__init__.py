"""Retiring old time partitions (`obsdb retention`) and the guard the loader asks (docs/retention.md)."""

from obsdb.retention.run import Options, RetentionError, RetentionReport, parse_keep

__all__ = ["Options", "RetentionError", "RetentionReport", "parse_keep"]
