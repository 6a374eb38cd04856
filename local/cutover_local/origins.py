"""Real HTTPS origins on loopback, with certificates from a test CA made at start (trustme).

An origin stands for the Heroku app or the AWS load balancer: it answers every request with the
status it is told, after the delay it is told, with a certificate for the names it is told (or
for other names, or expired). ``resolver`` maps origin targets (``*.herokudns.com``,
``*.elb.amazonaws.com``) to these servers, so the product's checks run their real TLS and HTTP
code against them, offline.

Every engine runs two of them (``Origins``): ``heroku`` and ``aws``; the product's readiness
checks reach them through the engine's resolver and trust the engine's test CA, and the engine's
Route 53 health checkers judge them by their status and delay. Scenarios set the AWS origin's
certificate; a rehearsal's traffic sets the AWS origin's status as its scenario says, on the
virtual clock (503 while the load balancer has no healthy target).
"""

from __future__ import annotations

import math
import random
import ssl
import tempfile
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

from cutover import readiness

CERTIFICATES = ("valid", "wrong-name", "expired")


class Origin:
    """One HTTPS server on 127.0.0.1 (a free port), answering ``status`` after ``delay`` seconds.

    Its certificate covers ``names``; without names, whatever name a client asks for (SNI), as
    a correctly set-up origin would, unless ``certificate`` says it is for another name or expired.
    """

    def __init__(self, ca: trustme.CA, names: list[str] | None = None, not_after: datetime | None = None,
                 status: int = 200, delay: float = 0.0, certificate: str = "valid") -> None:
        self.status, self.delay, self.certificate = status, delay, certificate
        # an answer for one Host only (a load balancer rule): Host -> status
        self.status_for_host: dict[str, int] = {}
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
                status = origin.answer(self.headers.get("Host", ""))
                body = f"{status}\n".encode()
                self.send_response(status)
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

    def answer(self, host: str) -> int:
        """The status a request with this Host gets."""
        return self.status_for_host.get(host.lower().split(":")[0], self.status)

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
CHECKER_TIMEOUT = 2.0  # a Route 53 checker's wait for the answer once connected
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
        # how each origin treats requests now, for the probes' model: "aws" or "heroku" ->
        # (error rate, p99 seconds). A rehearsal's traffic sets it from its scenario.
        self.behaviour: Any = lambda origin: (0.0, 0.25)
        self.probe_rng = random.Random(0)  # noqa: S311 - a reproducible simulation; the engine seeds it

    def route(self, target: str, origin: str) -> None:
        self.routes[target] = self.aws if origin == "aws" else self.heroku

    def addresses(self) -> dict[str, list[Any]]:
        """Each target suffix and the address of the origin it reaches (for a process outside
        the engine, such as ``cutover plan`` against ``cutover local up``)."""
        out: dict[str, list[Any]] = {s: list(self.heroku.address) for s in HEROKU_SUFFIXES}
        out.update({s: list(self.aws.address) for s in AWS_SUFFIXES})
        return out

    def origin_for(self, host: str) -> Origin | None:
        host = host.lower().rstrip(".")
        origin = self.routes.get(host)
        if origin is None and host.endswith(HEROKU_SUFFIXES):
            origin = self.heroku
        if origin is None and host.endswith(AWS_SUFFIXES):
            origin = self.aws
        return origin

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        origin = self.origin_for(host)
        if origin is None:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return [origin.address]

    def as_health_checker(self, config: dict[str, Any]) -> tuple[bool, str]:
        """What a Route 53 health checker meets at ``config``'s endpoint (no request is sent: the
        origin's status and delay decide, as they would decide its answer): a 2XX or 3XX within
        2 s. The certificate is not checked, as Route 53 does not."""
        origin = self.origin_for(str(config.get("FullyQualifiedDomainName", "")))
        if origin is None:
            return False, "Failure: DNS resolution failed: the name does not resolve"
        if origin.delay >= CHECKER_TIMEOUT:
            return False, f"Failure: The request timed out after {CHECKER_TIMEOUT:g} seconds"
        status = origin.answer(str(config.get("FullyQualifiedDomainName", "")))
        if not 200 <= status < 400:
            return False, f"Failure: HTTP Status Code {status}"
        return True, f"Success: HTTP Status Code {status}, OK"

    def as_probe(self, name: str, target: str, origin: str, spec: readiness.Spec) -> readiness.Result:
        """What one probe request meets (``probes.SEND`` in the engine), without a request: the
        target must resolve, the origin's certificate must be valid for the name, then the
        origin's status decides, and an answer that is not a 5XX is one with the origin's error
        rate of the moment; the latency is drawn with the origin's p99 of the moment (a
        lognormal whose median is a third of it) plus its delay. Past the timeout: timed out."""
        where = self.origin_for(target)
        if where is None:
            return readiness.Result(name, origin, target, "dns", f"{target} does not resolve")
        if where.certificate != "valid":
            return readiness.Result(name, origin, target, "certificate", f"the certificate is {where.certificate}")
        error_rate, p99 = self.behaviour("aws" if where is self.aws else "heroku")
        rng = self.probe_rng
        seconds = where.delay + (p99 / 3) * math.exp(0.472 * rng.gauss(0, 1))
        if seconds >= spec.timeout:
            return readiness.Result(name, origin, target, "http", f"no answer within {spec.timeout}s", timed_out=True)
        status = where.answer(name)
        if status < 500 and rng.random() < error_rate:
            status = 500
        failed = None if readiness.status_expected(status, spec.expect) else "http"
        return readiness.Result(name, origin, target, failed, f"HTTP {status}", status=status, seconds=seconds)

    def close(self) -> None:
        self.heroku.close()
        self.aws.close()
        self._dir.cleanup()
