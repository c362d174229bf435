"""The salesforce destination."""
