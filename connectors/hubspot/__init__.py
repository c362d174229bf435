"""The hubspot destination."""
