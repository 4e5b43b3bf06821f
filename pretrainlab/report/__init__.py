"""The study report: tables, verdicts and figures from metrics and per-item results."""
