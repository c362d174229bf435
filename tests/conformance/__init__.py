"""Conformance corpus: one table-driven case per failure kind (issue 12)."""
