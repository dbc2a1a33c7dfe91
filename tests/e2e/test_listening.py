"""`make run` listens on 127.0.0.1 only: every TCP socket its processes listen on is a loopback one.

The listening sockets are read from /proc: each process of the launcher's session (api-server,
scheduler, dag-processor, triggerer and whatever they forked) lists its socket inodes under
/proc/<pid>/fd, and /proc/net/tcp{,6} gives the address of every listening socket by inode.
Airflow's log servers (scheduler, triggerer) bind every interface and cannot be told otherwise,
so scripts/local-bin/airflow starts those components without them; task logs are then read from
the log files, which the second test checks through the REST API.
"""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

import pytest

from .conftest import Standalone, _session_pids
from .test_standalone import DEMO_DAG, _trigger, _wait_for_dag

pytestmark = pytest.mark.e2e

LISTEN = "0A"
# a 2-core machine shared with other work can take many minutes to schedule the first task
LOG_WAIT_S = 900


def _listening_by_inode() -> dict[int, str]:
    """inode → "address:port" of every listening TCP socket of this network namespace."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != LISTEN:
                continue
            hex_ip, hex_port = local.split(":")
            raw = bytes.fromhex(hex_ip)
            # the kernel prints each 32-bit word in host (little-endian) order
            ip = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found[inode] = f"{ipaddress.ip_address(ip)}:{int(hex_port, 16)}"
    return found


def _sockets_of(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:  # the process ended meanwhile
        pass
    return inodes


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_every_listening_socket_is_on_loopback(standalone: Standalone) -> None:
    time.sleep(5)  # components start their helper servers right after they report healthy
    listening = _listening_by_inode()
    sockets: dict[str, str] = {}
    for pid in _session_pids(standalone.process.pid):
        for inode in _sockets_of(pid) & listening.keys():
            sockets[listening[inode]] = f"pid {pid}: {_cmdline(pid)[:120]}"
    port = standalone.base_url.rsplit(":", 1)[1]
    assert any(a.endswith(f":{port}") for a in sockets), f"the api-server's socket was not found: {sockets}"
    exposed = {address: who for address, who in sockets.items() if not _is_loopback(address)}
    assert exposed == {}, f"listening beyond 127.0.0.1: {exposed}"


def test_task_logs_are_served_without_the_log_servers(standalone: Standalone) -> None:
    """The log of a finished task (ours, or one the scheduler ran meanwhile) reads through the API."""
    dag = _wait_for_dag(standalone, DEMO_DAG)
    if dag.get("is_paused"):
        standalone.unpause(DEMO_DAG)
    _trigger(standalone, DEMO_DAG)
    deadline = time.monotonic() + LOG_WAIT_S
    finished = []
    while time.monotonic() < deadline and not finished:
        answer = standalone.get("/api/v2/dags/~/dagRuns/~/taskInstances",
                                params={"state": ["success", "failed"], "limit": 1})
        finished = answer.json().get("task_instances", []) if answer.status_code == 200 else []
        time.sleep(5)
    assert finished, f"no task finished within {LOG_WAIT_S} s"
    ti = finished[0]
    response = standalone.get(
        f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
    )
    assert response.status_code == 200, response.text
    content = response.json().get("content") or []
    text = str(content)
    assert "Could not read served logs" not in text, text[-2000:]
    # more than the header group Airflow adds around the sources it read
    assert (len(content) > 3 and ti["task_id"] in text) or "Task" in text, text[-2000:]
