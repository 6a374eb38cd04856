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
    assert [d["Values"] for d in data if d["MetricName"] == "Latency"] == [[123.4], [200.0]]
    assert all(d["StorageResolution"] == 1 and d["Timestamp"] == at for d in data)
    assert data[0]["Dimensions"] == [{"Name": "Name", "Value": NAME}, {"Name": "Origin", "Value": "aws"}]


# the plan's probe section ---------------------------------------------------------------

def test_the_probe_section_defaults_to_every_10_seconds_20_requests_and_2_seconds():
    spec, problems = probes.parse_spec(None)
    assert problems == [] and (spec.interval, spec.requests, spec.timeout, spec.skip) == (10, 20, 2, None)
    spec, problems = probes.parse_spec({"interval": "30s", "requests": 1, "timeout": 5})
    assert problems == [] and (spec.interval, spec.requests, spec.timeout) == (30, 1, 5)


@pytest.mark.parametrize(("raw", "field", "words"), [
    ({"interval": "1m"}, "probe.interval", "5s to 30s"),
    ({"interval": "soon"}, "probe.interval", ""),
    ({"timeout": 10}, "probe.timeout", "1s to 5s"),
    ({"interval": 5, "timeout": 5}, "probe.timeout", "shorter than the interval"),
    ({"requests": 0}, "probe.requests", "1 to 20"),
    ({"requests": True}, "probe.requests", "1 to 20"),
    ({"every": 10}, "probe.every", "unknown field"),
    ({"skip": "no"}, "probe.skip", "reason"),
    ("often", "probe", "mapping"),
])
def test_a_bad_probe_section_names_the_field_and_why(raw, field, words):
    _, problems = probes.parse_spec(raw)
    assert [f for f, _ in problems] == [field] and words in problems[0][1]


def test_the_live_entry_names_both_origins_of_every_name_and_nothing_when_switched_off():
    from cutover.records import Pair

    pairs = [Pair(NAME, "a.herokudns.com", AWS, 60, 100, 0), Pair("api.shop.example.com", "b.herokudns.com", AWS, 60, 100, 0)]
    entry = probes.live_entry(probes.Spec(), "/health", pairs)
    assert entry["path"] == "/health" and entry["interval"] == 10
    assert entry["targets"] == [[NAME, "aws", AWS], [NAME, "heroku", "a.herokudns.com"],
                                ["api.shop.example.com", "aws", AWS], ["api.shop.example.com", "heroku", "b.herokudns.com"]]
    assert probes.live_entry(probes.Spec(skip="origins only inside the VPC"), "/", pairs) is None


# the probe function's minute --------------------------------------------------------------

class Minute:
    """A clock that moves only when the probe sleeps, and what it published."""

    def __init__(self, fail_publish_at: set[int] = frozenset()):
        self.t = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
        self.published: list[list[dict]] = []
        self.sleeps: list[float] = []
        self.fail_at = fail_publish_at

    def now(self):
        return self.t

    def sleep(self, seconds):
        from datetime import timedelta

        self.sleeps.append(seconds)
        self.t += timedelta(seconds=seconds)

    def publish(self, data):
        if len(self.published) in self.fail_at:
            self.published.append([])
            raise RuntimeError("Throttling: Rate exceeded")
        self.published.append(data)


LIVE = {"cutover_id": "c1", "probe": {"interval": 10, "timeout": 2, "requests": 3, "path": "/",
                                      "targets": [[NAME, "aws", AWS], [NAME, "heroku", "x.herokudns.com"]]}}


@pytest.fixture
def answers(monkeypatch):
    sent = []

    def send(name, target, origin, spec):
        sent.append((name, target, origin, spec.path, spec.timeout))
        return Result(name, origin, target, None, "ok", status=503 if origin == "aws" else 200, seconds=0.05)

    monkeypatch.setattr(probes, "SEND", send)
    return sent


def test_with_no_live_cutover_the_minute_is_idle(answers):
    minute = Minute()
    summary = probes.run([{"cutover_id": "old", "execution_arn": "x"}], minute.publish, minute.now, minute.sleep)
    assert summary["rounds"] == 0 and minute.published == [] and minute.sleeps == [] and answers == []


def test_a_live_cutover_is_probed_every_interval_for_the_minute_and_each_round_is_published_at_once(answers):
    minute = Minute()
    summary = probes.run([LIVE], minute.publish, minute.now, minute.sleep)
    # rounds at 0, 10, ... 50 s: the last ends (with its timeout) inside the 55 s window
    assert summary["rounds"] == 6 and minute.sleeps == [10.0] * 5
    assert summary["requests"] == 6 * 2 * 3 and summary["errors"] == 6 * 3  # every AWS answer a 503
    stamps = [batch[0]["Timestamp"] for batch in minute.published]
    assert [(b - stamps[0]).total_seconds() for b in stamps] == [0, 10, 20, 30, 40, 50]
    requests = {d["Dimensions"][1]["Value"]: d["Value"] for d in minute.published[0] if d["MetricName"] == "Requests"}
    assert requests == {"aws": 3, "heroku": 3}
    assert len(answers) == 36 and {a[3:] for a in answers} == {("/", 2)}


def test_a_round_that_cannot_be_published_is_counted_and_the_next_round_goes_on(answers):
    minute = Minute(fail_publish_at={1})
    summary = probes.run([LIVE], minute.publish, minute.now, minute.sleep)
    assert summary["rounds"] == 6 and summary["failed_rounds"] == 1
    assert "Throttling" in summary["failures"][0] and sum(1 for b in minute.published if b) == 5


def test_two_cutovers_are_each_probed_at_their_own_interval(answers):
    slow = {"cutover_id": "c2", "probe": {**LIVE["probe"], "interval": 30, "requests": 1}}
    minute = Minute()
    summary = probes.run([LIVE, slow], minute.publish, minute.now, minute.sleep)
    assert summary["rounds"] == 6 + 2 and summary["cutovers"] == 2
