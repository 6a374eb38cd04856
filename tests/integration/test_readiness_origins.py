"""Readiness checks against real HTTPS servers on loopback (a test CA, the product's own TLS and
HTTP code): right name, wrong name, expired, expiring soon, 503, slow, refused, not resolving."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest
import trustme

from cutover import readiness
from cutover_local.origins import Origin, resolver

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

NAME = "www.shop.example.com"
AWS = "shop-alb-123456789.us-east-1.elb.amazonaws.com"


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def cafile(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def origins():
    started: list[Origin] = []
    yield started
    for origin in started:
        origin.close()


QUICK = readiness.Spec(timeout=2)


def check(origin_or_address, cafile, spec=QUICK, target=AWS):
    address = origin_or_address.address if isinstance(origin_or_address, Origin) else origin_or_address
    return readiness.check(NAME, target, "aws", spec, resolve=resolver({AWS: address}), cafile=cafile)


def test_an_origin_with_the_right_certificate_and_a_200_is_ready(ca, cafile, origins):
    origins.append(Origin(ca, [NAME]))
    result = check(origins[0], cafile, readiness.Spec(path="/healthz", timeout=2))
    assert result.ok, result.reason
    assert result.status == 200 and result.cert_days_left and result.cert_days_left > 14
    assert origins[0].requests == [{"path": "/healthz", "host": NAME}], "the name as Host, the plan's path"


def test_a_certificate_for_another_name_is_refused_naming_the_name(ca, cafile, origins):
    origins.append(Origin(ca, ["*.us-east-1.elb.amazonaws.com"]))  # the load balancer's default certificate
    result = check(origins[0], cafile)
    assert (result.failed_at, result.ok) == ("certificate", False)
    assert f"does not cover {NAME}" in result.reason
    assert origins[0].requests == [], "no request is sent over a connection to the wrong name"


def test_an_expired_certificate_is_refused(ca, cafile, origins):
    origins.append(Origin(ca, [NAME], not_after=datetime.now().astimezone() - timedelta(days=1)))
    result = check(origins[0], cafile)
    assert result.failed_at == "certificate" and "expired" in result.reason


def test_a_certificate_expiring_sooner_than_the_plan_allows_is_refused(ca, cafile, origins):
    origins.append(Origin(ca, [NAME], not_after=datetime.now().astimezone() + timedelta(days=5)))
    result = check(origins[0], cafile, readiness.Spec(timeout=2, min_cert_days=14))
    assert result.failed_at == "certificate" and "at least 14 required" in result.reason
    assert result.cert_days_left is not None and 4 < result.cert_days_left <= 5
    assert check(origins[0], cafile, readiness.Spec(timeout=2, min_cert_days=3)).ok


def test_a_certificate_from_an_unknown_authority_is_refused(ca, origins):
    origins.append(Origin(trustme.CA(), [NAME]))  # not the CA the checker trusts
    result = check(origins[0], None)  # the system's bundle, which does not know the test CA
    assert result.failed_at == "certificate" and "not trusted" in result.reason


def test_a_503_is_not_ready_and_the_status_is_named(ca, cafile, origins):
    origins.append(Origin(ca, [NAME], status=503))
    result = check(origins[0], cafile)
    assert result.failed_at == "http" and result.status == 503
    assert "answered 503 (expected 200-399)" in result.reason


def test_the_expected_statuses_come_from_the_plan(ca, cafile, origins):
    origins.append(Origin(ca, [NAME], status=301))
    assert check(origins[0], cafile).ok
    assert not check(origins[0], cafile, readiness.Spec(expect=((200, 200),), timeout=2)).ok


def test_an_origin_slower_than_the_timeout_is_not_ready(ca, cafile, origins):
    origins.append(Origin(ca, [NAME], delay=1.5))
    result = check(origins[0], cafile, readiness.Spec(timeout=1))
    assert result.failed_at == "http" and "within 1s" in result.reason
    assert result.seconds is not None and result.seconds < 1.4


def test_a_refused_connection_is_named_with_its_address(cafile):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        address = closed.getsockname()
    result = check(address, cafile)
    assert result.failed_at == "connect" and f"127.0.0.1:{address[1]}" in result.reason


def test_a_target_that_does_not_resolve(cafile):
    result = readiness.check(NAME, "shop-alb-typo.elb.amazonaws.com", "aws", readiness.Spec(timeout=2),
                             resolve=resolver({}), cafile=cafile)
    assert result.failed_at == "dns" and "does not resolve" in result.reason
