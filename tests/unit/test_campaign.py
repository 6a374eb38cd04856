"""A campaign file: validated whole, every problem named with where it is, before anything starts."""

import pytest

from cutover import campaign as cp
from cutover.steps import FAST_POLL_SECONDS, MAX_POLL_SECONDS, SLOW_POLL_SECONDS, poll_interval

APP = {"hosted_zone_id": "ZFLEET0", "aws": {"target": "fleet-alb.us-east-1.elb.amazonaws.com"}, "alarms": ["a-5xx"]}


def campaign(**changes):
    raw = {"campaign": "fleet", "defaults": dict(APP),
           "waves": [{"name": "first", "after": {"pause": "10m"}, "cutovers": [{"records": ["www.a.example.com"]}]},
                     {"cutovers": [{"name": "b", "records": ["www.b.example.com"]},
                                   {"records": ["www.c.example.com"], "alarms": ["c-5xx"]}]}]}
    raw.update(changes)
    return raw


def problems_of(raw):
    with pytest.raises(cp.CampaignInvalid) as refused:
        cp.parse(raw)
    return dict(refused.value.problems)


def test_a_valid_campaign_merges_the_defaults_under_each_plan_and_names_each_cutover():
    parsed = cp.parse(campaign())
    assert [c.id for c in parsed.cutovers] == ["fleet-www-a-example-com", "b", "fleet-www-c-example-com"]
    assert parsed.cutovers[2].plan.alarms == ("c-5xx",) and parsed.cutovers[1].plan.alarms == ("a-5xx",)
    assert parsed.waves[0].pause == 600 and parsed.waves[1].max_parallel == cp.DEFAULT_MAX_PARALLEL
    assert parsed.on_rollback == "stop"
    shaped = parsed.to_input()
    assert shaped["waves"][1]["last"] is True and shaped["waves"][0]["last"] is False
    assert shaped["waves"][1]["cutovers"][0] == {"id": "b", "plan": parsed.cutovers[1].plan.to_dict()}


def test_every_problem_is_named_at_once_with_where_it_is():
    raw = campaign(on_rollback="sometimes", max_parallel=0, surprise=1)
    raw["waves"][0]["cutovers"].append({"records": ["www.b.example.com"], "ttl": {"during": 1}})
    raw["waves"][1]["cutovers"][0]["name"] = "fleet-www-a-example-com"
    raw["waves"][1]["after"] = {"gate": "manual"}
    found = problems_of(raw)
    assert "must be one of stop, continue" in found["on_rollback"]
    assert "from 1 to 40" in found["max_parallel"]
    assert "unknown field" in found["surprise"]
    assert "waves[0].cutovers[1].ttl.during" in found  # the plan's own rule, with the cutover's place
    assert "used by waves[0].cutovers[0] too" in found["waves[1].cutovers[0].name"]
    assert "the last wave has nothing after it" in found["waves[1].after"]


def test_a_name_moved_twice_in_one_campaign_is_refused():
    raw = campaign()
    raw["waves"][1]["cutovers"][1]["records"] = ["www.a.example.com"]
    assert "moved by waves[0].cutovers[0] too" in problems_of(raw)["waves[1].cutovers[1].records"]


@pytest.mark.parametrize("after, problem", [({"pause": "soon"}, "waves[0].after.pause"), ({"gate": "auto"}, "waves[0].after.gate"),
                                            ({"wait": 1}, "waves[0].after")])
def test_what_comes_after_a_wave_is_a_pause_or_a_manual_gate(after, problem):
    raw = campaign()
    raw["waves"][0]["after"] = after
    assert problem in problems_of(raw)


@pytest.mark.parametrize("raw", [None, [], {}, {"campaign": "x", "waves": []}, {"campaign": "x y", "waves": [{}]}])
def test_an_empty_or_shapeless_campaign_is_refused(raw):
    assert problems_of(raw)


def test_change_polls_slow_down_as_more_cutovers_are_live_in_the_account():
    assert poll_interval(1, 0) == FAST_POLL_SECONDS and poll_interval(10, 1) == SLOW_POLL_SECONDS
    assert poll_interval(1, 40) == 40  # 40 live cutovers share one poll a second
    assert poll_interval(1, 500) == MAX_POLL_SECONDS


def test_the_example_campaign_file_is_valid_and_says_what_the_readme_says():
    from pathlib import Path

    import yaml

    text = (Path(__file__).parents[2] / "examples" / "campaign.yaml").read_text()
    parsed = cp.parse(yaml.safe_load(text))
    assert [w.name for w in parsed.waves] == ["staging", "production"]
    assert parsed.waves[0].gate and not parsed.waves[1].gate
    assert [w.max_parallel for w in parsed.waves] == [2, 1]
    assert [c.id for c in parsed.cutovers] == ["www-staging", "api-staging", "api", "www"]
    assert all(c.plan.watch == 7200 for c in parsed.cutovers)


class _Notifier:
    """SNS as the campaign's steps see it: down until ``up`` is set; what it took."""

    def __init__(self, topic):
        self.default_topic_arn, self.up, self.sent = topic, False, []

    def send(self, topic, subject, message):
        if not self.up:
            return None
        self.sent.append((topic, subject, message))
        return f"message-{len(self.sent)}"


def test_a_campaign_notification_sns_refused_is_recorded_and_sent_again_by_the_reconciler(monkeypatch):
    import boto3
    from moto import mock_aws

    from cutover import campaign_steps, reactions
    from cutover.adapters.store import Store
    from cutover.settings import Settings
    from cutover.steps import Deps
    from cutover_local.engine import create_table
    from tests.support import template

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        create_table("campaigns", template()["Resources"]["CutoverTable"]["Properties"])
        notifier = _Notifier("arn:aws:sns:us-east-1:123456789012:cutover")
        deps = Deps(Settings.from_env({"TABLE_NAME": "campaigns"}), store=Store("campaigns", boto3.client("dynamodb")),
                    notifier=notifier)
        campaign_steps._notify(deps, "fleet", "halted", by="app007")
        (failed,) = [e for e in deps.store.campaign_ledger("fleet") if e["event"] == "notification_failed"]
        assert failed["notification"] == "halted" and notifier.sent == []
        assert reactions.reconcile(deps)["notifications_resent"] == 0, "SNS still down: kept"
        notifier.up = True
        assert reactions.reconcile(deps)["notifications_resent"] == 1
        assert notifier.sent == [(notifier.default_topic_arn, "campaign halted: fleet",
                                  {"campaign": "fleet", "event": "halted", "by": "app007"})]
        assert deps.store.outbox() == [] and reactions.reconcile(deps)["notifications_resent"] == 0, "sent once"
