"""The report: tables, words, figures and the dashboard."""
