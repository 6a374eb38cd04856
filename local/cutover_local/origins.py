"""Real HTTPS origins on loopback, with certificates from a test CA made at start (trustme).

An origin stands for the Heroku app or the AWS load balancer: it answers every request with the
status it is told, after the delay it is told, with a certificate for the names it is told (or
for other names, or expired). ``resolver`` maps origin targets (``*.herokudns.com``,
``*.elb.amazonaws.com``) to these servers, so the product's checks run their real TLS and HTTP
code against them, offline.

Not yet driven by the rehearsal's scenarios (issue 10 continues): for now the readiness tests use
them directly.
"""

from __future__ import annotations

import ssl
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme


class Origin:
    """One HTTPS server on 127.0.0.1 (a free port), answering ``status`` after ``delay`` seconds."""

    def __init__(self, ca: trustme.CA, names: list[str], not_after: datetime | None = None,
                 status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.requests: list[dict[str, str]] = []  # what reached it: path and Host
        cert = ca.issue_cert(*names, not_after=not_after)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                origin.requests.append({"path": self.path, "host": self.headers.get("Host", "")})
                if origin.delay:
                    time.sleep(origin.delay)
                body = f"{origin.status}\n".encode()
                self.send_response(origin.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature it overrides
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"origin-{self.port}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def resolver(targets: dict[str, tuple[str, int]]) -> Any:
    """A resolver for ``readiness.check``: each target name to its loopback origin; any other
    name does not resolve (as a typo in a CNAME target would not)."""
    def resolve(host: str, port: int) -> list[tuple[str, int]]:
        if host in targets:
            return [targets[host]]
        raise OSError(f"[Errno -2] Name or service not known: {host}")

    return resolve
