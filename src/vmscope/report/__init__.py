"""The report: HTML (self-contained, offline) with Markdown and CSV beside it, and a terminal summary.

`build_report(out_dir, db_path, run_ids)` rebuilds everything from stored results; `terminal_summary`
prints the headline of what it showed.
"""

from vmscope.report.data import ReportData, collect
from vmscope.report.html import ReportPaths, build_report
from vmscope.report.terminal import terminal_summary

__all__ = ["ReportData", "ReportPaths", "build_report", "collect", "terminal_summary"]
