"""The autouse network guard: tests reach loopback and nothing else.

The refused addresses are chosen so that, were the guard broken, nothing would leave the machine: 0.0.0.0 means
this host, and getaddrinfo on a numeric address sends no query."""
from __future__ import annotations

import socket
import threading

import pytest



def test_a_connection_outside_loopback_fails_at_once():
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="0.0.0.0:9; tests stay on loopback"):
        sock.connect(("0.0.0.0", 9))


def test_a_lookup_outside_loopback_fails_at_once():
    with pytest.raises(ConnectionRefusedError, match="10.255.255.1.*tests stay on loopback"):
        socket.getaddrinfo("10.255.255.1", 443)


def test_loopback_connections_still_work():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = threading.Thread(target=lambda: server.accept()[0].close())
    accepted.start()
    with socket.create_connection(("localhost", port), timeout=5):
        pass
    accepted.join(5)
    server.close()
