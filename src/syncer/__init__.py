"""syncer: reverse-ETL from warehouse usage scores to CRM fields, tasks and Slack alerts."""

__version__ = "0.1.0"
