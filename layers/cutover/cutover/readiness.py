"""Readiness: what a user's browser would meet at an origin, checked before any traffic moves.

For one DNS name and one origin target: resolve the target, open TLS to it with the name as SNI,
check that the certificate is trusted, covers the name and is not about to expire, then send
``GET path`` with the name as Host and expect a status in the plan's range, all within the
plan's timeout. Standard library only (it runs in Lambda); the resolver and the CA bundle are
parameters so that the local engine can point a target at its loopback origins.

``Preflight`` checks every name's AWS target (and records the Heroku target's answer as the
baseline) before anything changes; the first ``Shift`` checks the AWS target again.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from .durations import parse_duration
from .switches import section, skip_reason

DEFAULT_PATH = "/"
DEFAULT_EXPECT = ((200, 399),)
DEFAULT_TIMEOUT = 3
DEFAULT_MIN_CERT_DAYS = 14
HTTPS_PORT = 443
# OpenSSL's verification codes for the failures a user meets most
_HOSTNAME_MISMATCH, _EXPIRED, _NOT_YET_VALID = 62, 10, 9

# (host, port) -> the addresses to try, each (ip, port); the default asks the system's resolver
Resolver = Callable[[str, int], Sequence[tuple[str, int]]]
# The CA bundle certificates are verified against when a check names none (None: the system's).
# The local engine points both defaults at its loopback origins and their test CA.
CA_BUNDLE: str | None = None


@dataclass(frozen=True)
class Spec:
    """The plan's ``readiness`` section."""

    path: str = DEFAULT_PATH
    expect: tuple[tuple[int, int], ...] = DEFAULT_EXPECT
    timeout: int = DEFAULT_TIMEOUT  # seconds, for the whole check
    min_cert_days: int = DEFAULT_MIN_CERT_DAYS
    skip: str | None = None  # switched off, with the operator's reason

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "expect": [f"{lo}-{hi}" if lo != hi else lo for lo, hi in self.expect],
                               "timeout": self.timeout, "min_cert_days": self.min_cert_days}
        if self.skip:
            out["skip"] = self.skip
        return out


@dataclass(frozen=True)
class Result:
    """One origin checked for one name. ``failed_at`` names the step that failed (None: ready)."""

    name: str
    origin: str  # "aws" or "heroku"
    target: str
    failed_at: str | None  # "dns", "connect", "tls", "certificate", "http" or None
    reason: str
    address: str | None = None
    status: int | None = None
    seconds: float | None = None
    cert_days_left: float | None = None
    timed_out: bool = False  # no connection, or no answer, within the timeout

    @property
    def ok(self) -> bool:
        return self.failed_at is None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def system_resolver(host: str, port: int) -> list[tuple[str, int]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[tuple[str, int]] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = (str(sockaddr[0]), int(sockaddr[1]))
        if address not in seen:
            seen.append(address)
    return seen


def parse_spec(raw: Any) -> tuple[Spec, list[tuple[str, str]]]:
    """The plan's ``readiness`` mapping as a ``Spec``, and the problems found (field, reason)."""
    raw, problems = section(raw, "readiness", {"path", "expect", "timeout", "min_cert_days", "skip"})
    if raw is None:
        return Spec(), problems
    path = raw.get("path", DEFAULT_PATH)
    if not isinstance(path, str) or not path.startswith("/") or any(c in path for c in " \r\n"):
        problems.append(("readiness.path", f"must be a URL path starting with / (no spaces), got {path!r}"))
        path = DEFAULT_PATH
    expect, why = parse_expect(raw.get("expect", "200-399"))
    if why:
        problems.append(("readiness.expect", why))
    timeout = DEFAULT_TIMEOUT
    if "timeout" in raw:
        try:
            timeout = parse_duration(raw["timeout"])
        except ValueError as exc:
            problems.append(("readiness.timeout", str(exc)))
        else:
            if not 1 <= timeout <= 10:
                problems.append(("readiness.timeout", f"must be 1s to 10s (the checks run inside a Lambda with a 30 s "
                                                      f"timeout), got {timeout}s"))
    days = raw.get("min_cert_days", DEFAULT_MIN_CERT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365:
        problems.append(("readiness.min_cert_days", f"must be a whole number of days from 0 to 365, got {days!r}"))
        days = DEFAULT_MIN_CERT_DAYS
    skip, problem = skip_reason(raw.get("skip"), "readiness", "origin answers only inside the VPC")
    problems += [problem] if problem else []
    return Spec(path, expect, timeout, days, skip), problems


def parse_expect(raw: Any) -> tuple[tuple[tuple[int, int], ...], str | None]:
    """``200``, ``"200-399"`` or a list of those, as ranges; or the defaults and why not."""
    items = raw if isinstance(raw, list) else [raw]
    ranges: list[tuple[int, int]] = []
    for item in items:
        low = high = None
        if isinstance(item, int) and not isinstance(item, bool):
            low = high = item
        elif isinstance(item, str) and "-" in item:
            first, _, last = item.partition("-")
            if first.strip().isdigit() and last.strip().isdigit():
                low, high = int(first), int(last)
        elif isinstance(item, str) and item.strip().isdigit():
            low = high = int(item)
        if low is None or high is None or not 100 <= low <= high <= 599:
            return DEFAULT_EXPECT, f"must be HTTP statuses like 200, '200-399' or a list of them, got {raw!r}"
        ranges.append((low, high))
    if not ranges:
        return DEFAULT_EXPECT, "must name at least one status"
    return tuple(ranges), None


def status_expected(status: int, expect: Sequence[tuple[int, int]]) -> bool:
    return any(low <= status <= high for low, high in expect)


def describe_expect(expect: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in expect)


def cert_days_left(not_after: str, now: datetime) -> float:
    """Days from ``now`` to a certificate's ``notAfter`` (as ``ssl.getpeercert`` gives it)."""
    return (ssl.cert_time_to_seconds(not_after) - now.timestamp()) / 86_400


def tls_failure(exc: ssl.SSLError, name: str) -> tuple[str, str]:
    """(step, reason) for a TLS handshake that failed, in the words an operator needs."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code == _HOSTNAME_MISMATCH:
            return "certificate", f"the certificate does not cover {name}: add it to the load balancer's certificate (ACM)"
        if code == _EXPIRED:
            return "certificate", "the certificate has expired"
        if code == _NOT_YET_VALID:
            return "certificate", "the certificate is not valid yet"
        return "certificate", f"the certificate is not trusted: {exc.verify_message}"
    return "tls", f"the TLS handshake failed: {getattr(exc, 'reason', None) or exc}"


def check(name: str, target: str, origin: str, spec: Spec, resolve: Resolver | None = None,
          cafile: str | None = None, now: Callable[[], datetime] | None = None,
          port: int = HTTPS_PORT, verify: bool = True) -> Result:
    """Check one origin for one name, as a browser asking for ``https://name/path`` would meet it
    if DNS sent it to ``target``. Never raises for what the origin does; the Result says it.
    ``resolve`` and ``cafile`` default to the system's (``system_resolver``, ``CA_BUNDLE``).
    ``verify=False``: the certificate is not checked, as a Route 53 health checker does not."""
    started = time.monotonic()
    resolve = resolve or system_resolver
    cafile = cafile or CA_BUNDLE

    def result(failed_at: str | None, reason: str, **found: Any) -> Result:
        return Result(name, origin, target, failed_at, reason, seconds=round(time.monotonic() - started, 3), **found)

    def left() -> float:
        return max(0.001, spec.timeout - (time.monotonic() - started))

    try:
        addresses = list(resolve(target, port))
    except (OSError, UnicodeError) as exc:
        return result("dns", f"{target} does not resolve: {exc}")
    if not addresses:
        return result("dns", f"{target} resolves to no address")
    address = addresses[0]
    where = f"{address[0]}:{address[1]}"
    try:
        raw = socket.create_connection(address, timeout=left())
    except TimeoutError:
        return result("connect", f"no TCP connection to {target} ({where}) within {spec.timeout:g}s", address=where,
                      timed_out=True)
    except OSError as exc:
        return result("connect", f"{target} ({where}) refused or unreachable: {exc.strerror or exc}", address=where)
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.settimeout(left())
            peer = tls.getpeercert() or {}
            days = cert_days_left(str(peer["notAfter"]), now() if now else datetime.now().astimezone()) if "notAfter" in peer else None
            if days is not None and days < spec.min_cert_days:
                return result("certificate", f"the certificate expires in {days:.1f} days (at least {spec.min_cert_days} required)",
                              address=where, cert_days_left=round(days, 1))
            status = _get(tls, name, spec.path)
            found = {"address": where, "status": status, "cert_days_left": round(days, 1) if days is not None else None}
            if not status_expected(status, spec.expect):
                return result("http", f"GET {spec.path} with Host {name} answered {status} (expected {describe_expect(spec.expect)})",
                              **found)
            return result(None, f"GET {spec.path} answered {status}", **found)
    except ssl.SSLError as exc:
        step, reason = tls_failure(exc, name)
        return result(step, reason, address=where)
    except TimeoutError:
        return result("http", f"no answer from {target} within {spec.timeout:g}s", address=where, timed_out=True)
    except (OSError, http.client.HTTPException) as exc:
        return result("http", f"{target} broke the connection: {exc}", address=where)
    finally:
        raw.close()


def _get(tls: ssl.SSLSocket, name: str, path: str) -> int:
    request = (f"GET {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: cutover-readiness\r\n"
               "Accept: */*\r\nConnection: close\r\n\r\n")
    tls.sendall(request.encode("ascii"))
    response = http.client.HTTPResponse(tls, method="GET")  # type: ignore[arg-type]
    response.begin()
    return int(response.status)
