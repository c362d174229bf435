"""The webhook destination."""
