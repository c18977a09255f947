"""Which worker process serves a connection, found from outside through /proc.

No test-only hook in the server: the kernel knows which process holds the
server end of a TCP connection. The client's socket gives the 4-tuple,
``/proc/net/tcp`` maps it to the server socket's inode, and the worker whose
``/proc/<pid>/fd`` links to ``socket:[inode]`` is the one serving it.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

C = TypeVar("C")


def _hex_address(address: tuple[str, int]) -> str:
    host, port = address[0], address[1]
    value = int.from_bytes(socket.inet_aton(host), sys.byteorder)
    return f"{value:08X}:{port:04X}"


def _server_inode(client: socket.socket) -> int | None:
    """The inode of the server end of ``client``'s IPv4 loopback connection."""
    server_end = _hex_address(client.getpeername())
    client_end = _hex_address(client.getsockname())
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1] == server_end and fields[2] == client_end:
                return int(fields[9])
    return None


def serving_pid(client: socket.socket, pids: Iterable[int], timeout: float = 10.0) -> int:
    """The pid among ``pids`` that accepted ``client``'s connection (polls: a
    connection may wait in the accept queue for a moment)."""
    deadline = time.monotonic() + timeout
    candidates = list(pids)
    while True:
        inode = _server_inode(client)
        if inode:
            target = f"socket:[{inode}]"
            for pid in candidates:
                try:
                    fds = os.listdir(f"/proc/{pid}/fd")
                except FileNotFoundError:
                    continue
                for fd in fds:
                    try:
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            return pid
                    except OSError:
                        continue
        if time.monotonic() > deadline:
            raise AssertionError(f"no worker of {candidates} holds the connection")
        time.sleep(0.02)


def connect_to(
    open_client: Callable[[], C],
    sock_of: Callable[[C], socket.socket],
    close: Callable[[C], None],
    pids: list[int],
    wanted: int,
    attempts: int = 200,
) -> C:
    """A client connection served by worker ``wanted``: connect until one lands there
    (the kernel gives each connection to whichever worker accepts first)."""
    for _ in range(attempts):
        client = open_client()
        if serving_pid(sock_of(client), pids) == wanted:
            return client
        close(client)
    raise AssertionError(f"{attempts} connections and none reached worker {wanted}")
