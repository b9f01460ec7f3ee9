"""Small process and port helpers shared by the local services."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    """True when a process with this PID exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> bool:
    """Wait until something accepts TCP connections on host:port.

    It cannot tell *who* listens: services that start a process use
    `kzmon.localstack.listeners.wait_for_own_listener` instead.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def terminate(pid: int, timeout: float = 10.0, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` (SIGTERM), wait up to ``timeout`` s, then SIGKILL; True if it was alive."""
    if not pid_alive(pid):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


def terminate_tree(pid: int, timeout: float = 10.0, sig: int = signal.SIGTERM) -> bool:
    """Stop a process by PID, then any of its descendants that outlived it (by their PIDs).

    A service is asked first (``sig``) so it can shut its own children down; whatever is left
    afterwards (a task process, a crawl subprocess) is terminated one PID at a time.
    """
    import psutil

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    was_alive = terminate(pid, timeout, sig)
    for child in descendants:
        try:
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                terminate(child.pid, min(timeout, 5.0))
        except psutil.NoSuchProcess:
            continue
    return was_alive
