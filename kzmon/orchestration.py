"""What every kzmon DAG shares: default arguments, failure notifications and the Asset.

DAG files import this module at parse time, so it does nothing costly at import: no network,
no database, no heavy stage imports (those happen inside the tasks, in `kzmon.tasks`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import Asset

from kzmon.settings import get_settings

#: Updated by every indexing task; the alerting DAG is scheduled on it, not on a timer.
ARTICLES_ASSET = Asset(name="kzmon_articles", uri="kzmon://elasticsearch/articles")

#: All DAGs start from here; with catchup=False only the latest interval runs.
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
OWNER = "kzmon"

# Retries: 2 attempts after the first, 1 min then 2 min (exponential, capped at 15 min): long
# enough for a restarting Elasticsearch node or a rate-limited outlet, short enough to finish
# well inside an hourly schedule.
# KZMON_RETRY_DELAY_SECONDS shortens the first delay (the scale-out tests retry a task whose
# Celery worker was killed).
RETRIES = 2
RETRY_DELAY = timedelta(seconds=float(os.environ.get("KZMON_RETRY_DELAY_SECONDS", "60")))
MAX_RETRY_DELAY = timedelta(minutes=15)

#: Per-task limits; a crawl of one outlet with politeness delays is the slowest step.
TIMEOUTS = {
    "crawl": timedelta(minutes=45),
    "enrich": timedelta(minutes=20),
    "index": timedelta(minutes=20),
    "default": timedelta(minutes=10),
}

FAILURE_SUBJECT = "[kzmon] {{ ti.dag_id }}.{{ ti.task_id }} failed ({{ ti.run_id }})"
FAILURE_HTML = """
<p>Task <b>{{ ti.dag_id }}.{{ ti.task_id }}</b> failed in run <code>{{ ti.run_id }}</code>
(try {{ ti.try_number }}).</p>
<p>Error: <pre>{{ exception | e }}</pre></p>
<p>Log: <a href="{{ ti.log_url }}">{{ ti.log_url }}</a></p>
"""


def failure_notifier() -> SmtpNotifier:
    """Mail ops (``KZMON_OPS_EMAIL``) through the SMTP provider when a task fails."""
    settings = get_settings()
    return SmtpNotifier(
        to=settings.ops_email,
        from_email=settings.mail_from,
        smtp_conn_id=os.environ.get("KZMON_SMTP_CONN_ID", "smtp_default"),
        subject=FAILURE_SUBJECT,
        html_content=FAILURE_HTML,
    )


def default_args(**overrides: Any) -> dict[str, Any]:
    """Default task arguments: owner, retries with exponential backoff, timeout, notifier."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
        "max_retry_delay": MAX_RETRY_DELAY,
        "execution_timeout": TIMEOUTS["default"],
        "on_failure_callback": failure_notifier(),
    }
    args.update(overrides)
    return args


def run_time(context: Any) -> str:
    """The moment a run stands for (ISO): its data-interval end, else its logical date, else
    when it was due to run (``run_after``).

    Airflow 3's manual and REST-triggered runs have no logical date and so no data interval:
    their context has no ``data_interval_end`` key at all; ``dag_run.run_after`` is always set.
    """
    when = context.get("data_interval_end") or context.get("logical_date")
    if when is None:
        dag_run = context.get("dag_run")
        when = getattr(dag_run, "run_after", None)
    return when.isoformat() if when else ""


def active_dag_args() -> dict[str, Any]:
    """DAG arguments of the DAGs that must never start paused: alerts and health.

    Airflow drops Asset events while their consumer is paused, so an alerts DAG created
    paused loses every indexing run until someone unpauses it; a paused health DAG watches
    nothing. Outlet DAGs follow the deployment's ``dags_are_paused_at_creation``.
    """
    return {"is_paused_upon_creation": False}


def safe_run_id(run_id: str) -> str:
    """A run id usable as a folder name (Airflow's contain ':' and '+')."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
