"""The slack destination."""
