"""kzmon core: settings, the Elasticsearch client, local services, and the later stages."""
