"""Destinations syncer writes to: one self-contained package per destination."""
