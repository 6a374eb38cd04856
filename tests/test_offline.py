"""The whole suite runs with sockets disabled (pytest --disable-socket in pyproject.toml)."""

import socket

import pytest
import pytest_socket


def test_opening_a_network_socket_is_refused():
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
