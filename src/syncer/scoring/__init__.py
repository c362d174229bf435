"""In-warehouse scoring: usage health, PQL and fired triggers, computed as SQL."""
