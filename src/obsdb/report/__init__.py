"""``obsdb report``: one self-contained HTML page that shows whether the data can be trusted.

The page is built from what derive already computed (bars, gaps, load runs, rejects), never from a
scan of the tick table, with one bounded query per section (``sql/*.sql``). Everything the page
needs (its script, style and the vendored chart library) is inlined, so it opens from disk with no
network. See docs/report.md.
"""

from obsdb.report.build import ReportOptions, ReportResult, build_report

__all__ = ["ReportOptions", "ReportResult", "build_report"]
