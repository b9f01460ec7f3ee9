"""Real local services, started and stopped by PID: Elasticsearch, SMTP, PostgreSQL, Airflow's
components, and the `make up` stack that composes them (every one checks its listener is its
own, `listeners`)."""
