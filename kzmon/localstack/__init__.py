"""Real local services for tests and the demo: Elasticsearch and an SMTP server."""
