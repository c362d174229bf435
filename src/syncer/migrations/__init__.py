"""Alembic migrations of the state database. Applied automatically when the state store opens."""
