"""Readiness: the pure logic (plan section, statuses, certificate dates, TLS failures named)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest

from cutover import readiness
from cutover.errors import PlanInvalid
from cutover.plan import parse_plan
from tests.support import plan


def test_defaults_are_the_documented_ones():
    spec, problems = readiness.parse_spec(None)
    assert problems == []
    assert (spec.path, spec.expect, spec.timeout, spec.min_cert_days, spec.skip) == ("/", ((200, 399),), 3.0, 14, None)


@pytest.mark.parametrize(("raw", "ranges"), [(200, ((200, 200),)), ("200-299", ((200, 299),)),
                                            ([200, "301-302"], ((200, 200), (301, 302))), ("204", ((204, 204),))])
def test_expected_statuses_are_single_codes_or_ranges(raw, ranges):
    assert readiness.parse_expect(raw) == (ranges, None)


@pytest.mark.parametrize("raw", ["2xx", "399-200", 99, 600, [], True, "200-", None])
def test_a_status_that_is_not_one_is_refused(raw):
    _, why = readiness.parse_expect(raw)
    assert why and "HTTP statuses" in why or why == "must name at least one status"


def test_status_expected_checks_every_range():
    expect = ((200, 299), (304, 304))
    assert [readiness.status_expected(s, expect) for s in (200, 299, 301, 304, 503)] == [True, True, False, True, False]


@pytest.mark.parametrize(("raw", "field"), [
    ({"path": "health"}, "readiness.path"), ({"path": "/a b"}, "readiness.path"),
    ({"timeout": "11s"}, "readiness.timeout"), ({"timeout": "soon"}, "readiness.timeout"),
    ({"min_cert_days": -1}, "readiness.min_cert_days"), ({"skip": "no"}, "readiness.skip"),
    ({"expect": "ok"}, "readiness.expect"), ({"retries": 3}, "readiness.retries"),
])
def test_each_bad_field_is_named(raw, field):
    _, problems = readiness.parse_spec(raw)
    assert [f for f, _ in problems] == [field]


def test_the_plan_carries_the_readiness_section_and_refuses_a_bad_one():
    parsed = parse_plan(plan(readiness={"path": "/healthz", "expect": [200, "301-302"], "timeout": "5s", "min_cert_days": 30}))
    assert parsed.readiness == readiness.Spec("/healthz", ((200, 200), (301, 302)), 5.0, 30)
    assert parse_plan(parsed.to_dict()) == parsed, "round-trips through the state machine's copy"
    with pytest.raises(PlanInvalid) as refused:
        parse_plan(plan(readiness={"path": "healthz", "skip": "x"}))
    assert {f for f, _ in refused.value.problems} == {"readiness.path", "readiness.skip"}


def test_days_left_come_from_the_certificates_not_after():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert readiness.cert_days_left("Dec  8 12:00:00 2026 GMT", now) == pytest.approx(14.0)
    assert readiness.cert_days_left("Nov 23 12:00:00 2026 GMT", now) == pytest.approx(-1.0)


def verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code, error.verify_message = code, message
    return error


@pytest.mark.parametrize(("code", "message", "words"), [
    (62, "Hostname mismatch, certificate is not valid for 'www.shop.example.com'.", "does not cover www.shop.example.com"),
    (10, "certificate has expired", "has expired"),
    (9, "certificate is not yet valid", "not valid yet"),
    (20, "unable to get local issuer certificate", "not trusted: unable to get local issuer certificate"),
])
def test_tls_failures_are_named_as_an_operator_needs_them(code, message, words):
    step, reason = readiness.tls_failure(verification_error(code, message), "www.shop.example.com")
    assert step == "certificate" and words in reason


def test_a_handshake_failure_that_is_not_about_the_certificate():
    step, reason = readiness.tls_failure(ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] alert"), "www.shop.example.com")
    assert step == "tls" and "handshake failed" in reason
