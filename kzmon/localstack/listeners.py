"""Is this listener my process? The one check every local service makes after it starts.

A service that waits only for "something accepts connections on the port" is fooled when
another process already holds that port (a second checkout's SMTP server on 8025, an older
Elasticsearch node): it reports success and its clients talk to the stranger. Every local
service (Elasticsearch, SMTP, the replay, PostgreSQL, the Airflow API server) therefore

1. refuses a port that is already taken (`ensure_port_free`), naming the holder, and
2. after starting its process, waits until *that process or one of its descendants* holds a
   listening socket on the port (`wait_for_own_listener`); it fails at once, naming the holder,
   when the port turns out to be held by someone else, or when its process exits.

psutil (already a dependency of Airflow) reads the sockets of a process tree; as root it also
names foreign holders, otherwise they are reported as "another process".
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

LOGGER = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_POLL_S = 0.2


class PortInUseError(RuntimeError):
    """The port a service wants is held by a process the service did not start."""


class ServiceStartError(RuntimeError):
    """A service's process exited or never listened on its port."""


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket and the process that holds it."""

    ip: str
    port: int
    pid: int | None


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its living descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_listeners(pid: int) -> list[Listener]:
    """Every listening TCP socket held by the process ``pid`` or its descendants."""
    found: list[Listener] = []
    for proc in process_tree(pid):
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        except psutil.AccessDenied:
            LOGGER.debug("cannot read the sockets of pid %s", proc.pid)
            continue
        for conn in conns:
            if conn.status == psutil.CONN_LISTEN and conn.laddr:
                found.append(Listener(conn.laddr.ip, conn.laddr.port, proc.pid))
    return found


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_holders(port: int) -> list[Listener]:
    """Listening sockets on ``port`` of any process (pids known as root, else maybe None)."""
    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return []
    return [
        Listener(c.laddr.ip, c.laddr.port, c.pid)
        for c in conns
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    ]


def describe_holder(port: int) -> str:
    """Who holds ``port``, for an error message: "pid 123 (python3 -m http.server)"."""
    names = []
    for holder in port_holders(port):
        if holder.pid is None:
            continue
        try:
            proc = psutil.Process(holder.pid)
            cmd = " ".join(proc.cmdline()[:4]) or proc.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            cmd = "?"
        names.append(f"pid {holder.pid} ({cmd})")
    return ", ".join(sorted(set(names))) or "another process"


def is_loopback(ip: str) -> bool:
    """Whether a listener address (IPv4, IPv6, IPv4-mapped, with a zone) is a loopback one."""
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on ``port`` (on ``host`` or on all interfaces)."""
    return not port_holders(port) and not _accepts(host, port)


def ensure_port_free(port: int, service: str, host: str = LOOPBACK) -> None:
    """Raise `PortInUseError` naming the holder when ``port`` is already taken."""
    if not port_is_free(port, host):
        raise PortInUseError(
            f"{service}: port {host}:{port} is already held by {describe_holder(port)}; "
            "stop that process or choose another port"
        )


def owns_listener(pid: int, port: int) -> bool:
    """True when ``pid`` or one of its descendants listens on ``port``."""
    return any(listener.port == port for listener in tree_listeners(pid))


def wait_for_own_listener(
    pid: int,
    port: int,
    service: str,
    *,
    timeout: float = 30.0,
    log: Path | None = None,
    ready: Callable[[], bool] | None = None,
    host: str = LOOPBACK,
) -> None:
    """Wait until the process ``pid`` (or a descendant) listens on ``port`` and is ``ready``.

    Fails with `PortInUseError` when another process holds the port, with
    `ServiceStartError` when ``pid`` exits or the timeout passes (pointing at ``log``).
    """
    see_log = f"; see {log}" if log else ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_tree(pid) or not _alive(pid):
            if not port_is_free(port, host):
                raise PortInUseError(
                    f"{service} (pid {pid}) exited: port {host}:{port} is held by "
                    f"{describe_holder(port)}{see_log}"
                )
            raise ServiceStartError(f"{service} (pid {pid}) exited before listening{see_log}")
        if owns_listener(pid, port):
            if ready is None or ready():
                return
        elif _accepts(host, port) and not owns_listener(pid, port):
            # (checked again: our process may have started listening in between)
            raise PortInUseError(
                f"{service}: port {host}:{port} answers, but not from the process we started "
                f"(pid {pid}): it is held by {describe_holder(port)}{see_log}"
            )
        time.sleep(_POLL_S)
    raise ServiceStartError(
        f"{service} (pid {pid}) did not listen on {host}:{port} within {timeout:g} s{see_log}"
    )


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
