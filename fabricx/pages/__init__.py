"""Self-contained HTML pages: a run's report.html, the runs comparison, the sweep's page."""
