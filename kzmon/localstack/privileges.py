"""Running a server as an unprivileged user when we are root.

Elasticsearch and PostgreSQL both refuse to run as root. When kzmon's local services are
started by root (CI, this machine), they run as ``nobody`` through util-linux's ``setpriv``
(which execs, so the PID we start is the server's), in folders handed over to that user.
"""

from __future__ import annotations

import os
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534


def must_drop_root() -> bool:
    """True when we are root and the servers must run as ``nobody``."""
    return os.geteuid() == 0


def as_unprivileged(cmd: list[str]) -> list[str]:
    """``cmd`` run as ``nobody`` when we are root, unchanged otherwise."""
    if not must_drop_root():
        return cmd
    return [
        "setpriv",
        f"--reuid={NOBODY_UID}",
        f"--regid={NOBODY_GID}",
        "--clear-groups",
        *cmd,
    ]


def check_reachable(path: Path, service: str) -> None:
    """Fail clearly when ``nobody`` cannot traverse a parent folder of ``path``."""
    if not must_drop_root():
        return
    for parent in path.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise RuntimeError(
                f"{parent} is not traversable by others; {service} runs as `nobody` when "
                "started by root, so put its folder where that user can reach it"
            )


def hand_over(path: Path, mode: int | None = None) -> None:
    """Give ``path`` and everything under it to ``nobody`` (when we are root)."""
    if not must_drop_root():
        return
    for item in [path, *path.rglob("*")]:
        os.chown(item, NOBODY_UID, NOBODY_GID, follow_symlinks=False)
    if mode is not None:
        path.chmod(mode)
