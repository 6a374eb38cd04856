"""Probes: a readiness result as a user counts it, and the high-resolution metrics of a round."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cutover import probes
from cutover.readiness import Result

NAME, AWS = "www.shop.example.com", "shop-alb.us-east-1.elb.amazonaws.com"


def result(failed_at=None, status=None, seconds=None, timed_out=False, reason="r"):
    return Result(NAME, "aws", AWS, failed_at, reason, status=status, seconds=seconds, timed_out=timed_out)


@pytest.mark.parametrize(("seen", "error"), [
    (result(status=200, seconds=0.12), None),
    (result(status=404, seconds=0.05), None),  # the application's answer, not an origin error
    (result("http", status=503, seconds=0.01), "5xx"),
    (result("certificate"), "tls"),
    (result("tls"), "tls"),
    (result("dns"), "dns"),
    (result("connect"), "connect"),
    (result("connect", timed_out=True), "timeout"),
    (result("http", timed_out=True), "timeout"),
])
def test_what_users_would_count_as_an_error(seen, error):
    observed = probes.observe(seen)
    assert observed.error == error
    assert (observed.seconds is not None) == (seen.status is not None), "latency only for an answer"


def test_a_round_becomes_requests_errors_and_latency_per_name_and_origin_at_one_second_resolution():
    at = datetime(2026, 12, 1, 14, 0, 10, tzinfo=UTC)
    seen = [probes.observe(result(status=200, seconds=0.1234)), probes.observe(result("dns")),
            probes.Observation(NAME, "heroku", "x.herokudns.com", None, 200, 0.2, "ok")]
    data = probes.metric_data(seen, at)
    by = {(d["MetricName"], d["Dimensions"][1]["Value"]): d for d in data if d["MetricName"] != "Latency"}
    assert by[("Requests", "aws")]["Value"] == 2 and by[("Errors", "aws")]["Value"] == 1
    assert by[("Requests", "heroku")]["Value"] == 1 and by[("Errors", "heroku")]["Value"] == 0
    assert [d["Value"] for d in data if d["MetricName"] == "Latency"] == [123.4, 200.0]
    assert all(d["StorageResolution"] == 1 and d["Timestamp"] == at for d in data)
    assert data[0]["Dimensions"] == [{"Name": "Name", "Value": NAME}, {"Name": "Origin", "Value": "aws"}]
