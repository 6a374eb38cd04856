"""Real HTTPS origins on loopback, with certificates from a test CA made at start (trustme).

An origin stands for the Heroku app or the AWS load balancer: it answers every request with the
status it is told, after the delay it is told, with a certificate for the names it is told (or
for other names, or expired). ``resolver`` maps origin targets (``*.herokudns.com``,
``*.elb.amazonaws.com``) to these servers, so the product's checks run their real TLS and HTTP
code against them, offline.

Every engine runs two of them (``Origins``): ``heroku`` and ``aws``; the product's readiness
checks reach them through the engine's resolver and trust the engine's test CA. Scenarios set
the AWS origin's certificate; driving status and delay from the scenario on the virtual clock
is not done yet (issue 10 continues).
"""

from __future__ import annotations

import ssl
import tempfile
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

CERTIFICATES = ("valid", "wrong-name", "expired")


class Origin:
    """One HTTPS server on 127.0.0.1 (a free port), answering ``status`` after ``delay`` seconds.

    Its certificate covers ``names``; without names, whatever name a client asks for (SNI), as
    a correctly set-up origin would, unless ``certificate`` says it is for another name or expired.
    """

    def __init__(self, ca: trustme.CA, names: list[str] | None = None, not_after: datetime | None = None,
                 status: int = 200, delay: float = 0.0, certificate: str = "valid") -> None:
        self.status, self.delay, self.certificate = status, delay, certificate
        self.requests: list[dict[str, str]] = []  # what reached it: path and Host
        self._ca, self._contexts, self._lock = ca, {}, threading.Lock()
        context = self._context_for(names or ["origin.invalid"], not_after)
        if names is None:
            context.sni_callback = self._by_name
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
        # a short poll: shutdown() waits for the serving loop to notice, once per engine
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"origin-{self.port}", daemon=True)
        self._thread.start()

    def _context_for(self, names: list[str], not_after: datetime | None = None) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ca.issue_cert(*names, not_after=not_after).configure_cert(context)
        return context

    def _by_name(self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        name = server_name or "origin.invalid"
        key = (name, self.certificate)
        with self._lock:
            if key not in self._contexts:
                if self.certificate == "wrong-name":
                    self._contexts[key] = self._context_for(["*.us-east-1.elb.amazonaws.com"])
                elif self.certificate == "expired":
                    self._contexts[key] = self._context_for([name], datetime.now().astimezone() - timedelta(days=1))
                else:
                    self._contexts[key] = self._context_for([name])
            connection.context = self._contexts[key]

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


HEROKU_SUFFIXES = (".herokudns.com", ".herokussl.com")
AWS_SUFFIXES = (".elb.amazonaws.com", ".cloudfront.net")


class Origins:
    """The engine's two origins and how the product reaches them: a resolver that sends Heroku
    DNS targets to ``heroku`` and AWS load balancer (or CloudFront) names to ``aws`` (and any
    target registered with ``route``), and the test CA's bundle as a file."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self._dir = tempfile.TemporaryDirectory(prefix="cutover-origins-")
        self.cafile = str(Path(self._dir.name) / "test-ca.pem")
        self.ca.cert_pem.write_to_path(self.cafile)
        self.heroku = Origin(self.ca)
        self.aws = Origin(self.ca)
        self.routes: dict[str, Origin] = {}

    def route(self, target: str, origin: str) -> None:
        self.routes[target] = self.aws if origin == "aws" else self.heroku

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        host = host.lower().rstrip(".")
        origin = self.routes.get(host)
        if origin is None and host.endswith(HEROKU_SUFFIXES):
            origin = self.heroku
        if origin is None and host.endswith(AWS_SUFFIXES):
            origin = self.aws
        if origin is None:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return [origin.address]

    def close(self) -> None:
        self.heroku.close()
        self.aws.close()
        self._dir.cleanup()
