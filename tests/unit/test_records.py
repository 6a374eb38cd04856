"""Route 53 change batches and the rules every batch must pass."""

from __future__ import annotations

import pytest

from cutover import records as rr
from cutover.errors import InvalidChangeBatch
from tests.support import ALB, HEROKU, NAME, ZONE

SIMPLE = {"Name": NAME, "Type": "CNAME", "TTL": 3600, "ResourceRecords": [{"Value": HEROKU}]}
PAIR = rr.Pair(NAME, HEROKU, ALB, 3600, 100, 0)


def weighted(set_id, target, weight, ttl=60, name=NAME):
    return rr.weighted_record(name, set_id, target, weight, ttl)


def actions(changes):
    return [(c["Action"], c["ResourceRecordSet"].get("SetIdentifier"), c["ResourceRecordSet"].get("Weight")) for c in changes]


def test_convert_deletes_the_simple_record_and_creates_the_pair_heroku_100_aws_0():
    changes = rr.convert_changes(SIMPLE, PAIR)
    assert actions(changes) == [("DELETE", None, None), ("CREATE", rr.HEROKU_ID, 100), ("CREATE", rr.AWS_ID, 0)]
    assert changes[0]["ResourceRecordSet"] == SIMPLE
    assert {c["ResourceRecordSet"]["TTL"] for c in changes} == {3600}
    rr.check_changes(changes, ZONE)


def test_convert_applied_to_the_zone_leaves_only_the_pair():
    after = rr.apply_changes([SIMPLE], rr.convert_changes(SIMPLE, PAIR), ZONE)
    assert sorted((r["SetIdentifier"], r["Weight"]) for r in after) == [(rr.AWS_ID, 0), (rr.HEROKU_ID, 100)]


def test_lower_ttl_is_a_compare_and_swap_of_the_pair():
    changes, new = rr.ttl_changes([PAIR], {NAME: 60})
    assert actions(changes) == [("DELETE", rr.HEROKU_ID, 100), ("DELETE", rr.AWS_ID, 0), ("CREATE", rr.HEROKU_ID, 100), ("CREATE", rr.AWS_ID, 0)]
    assert [c["ResourceRecordSet"]["TTL"] for c in changes] == [3600, 3600, 60, 60]
    assert new == [PAIR.with_ttl(60)]


def test_shift_deletes_the_pair_as_last_written_and_creates_the_new_weights():
    expected = PAIR.with_ttl(60)
    changes, new = rr.shift_changes([expected], 10)
    assert actions(changes) == [("DELETE", rr.HEROKU_ID, 100), ("DELETE", rr.AWS_ID, 0), ("CREATE", rr.HEROKU_ID, 90), ("CREATE", rr.AWS_ID, 10)]
    assert new[0].aws_percent == 10
    rr.check_changes(changes, ZONE)


def test_shift_to_100_keeps_a_non_zero_weight():
    _, new = rr.shift_changes([PAIR], 100)
    assert (new[0].heroku_weight, new[0].aws_weight) == (0, 100)


def test_restore_ttl_swaps_back_to_the_original_ttl():
    at_full = PAIR.with_ttl(60).with_weights(0, 100)
    changes, new = rr.ttl_changes([at_full], {NAME: 3600})
    assert [c["ResourceRecordSet"]["TTL"] for c in changes] == [60, 60, 3600, 3600]
    assert new[0] == at_full.with_ttl(3600)


def test_rollback_upserts_heroku_255_aws_0_at_the_original_ttl():
    changes, new = rr.rollback_changes([PAIR.with_ttl(60).with_weights(50, 50)], {NAME: 3600})
    assert actions(changes) == [("UPSERT", rr.HEROKU_ID, 255), ("UPSERT", rr.AWS_ID, 0)]
    assert {c["ResourceRecordSet"]["TTL"] for c in changes} == {3600}
    assert new[0].aws_percent == 0


@pytest.mark.parametrize("aws", [0, 10, 50, 100])
def test_rollback_succeeds_from_any_weights(aws):
    live = PAIR.with_ttl(60).with_weights(100 - aws, aws)
    after = rr.apply_changes(live.records(), rr.rollback_changes([live], {NAME: 3600})[0], ZONE)
    assert {r["SetIdentifier"]: r["Weight"] for r in after} == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def test_rollback_weights_are_a_pair_no_stage_expects():
    # Any shift in flight expects weights 100-w / w; the rollback pair is never one of them.
    stage_pairs = {rr.weights_for(w) for w in range(0, 101)}
    assert rr.ROLLBACK_WEIGHTS not in stage_pairs


def test_a_shift_based_on_a_stale_pair_is_refused_and_changes_nothing():
    live = PAIR.with_ttl(60).with_weights(90, 10).records()
    stale, _ = rr.shift_changes([PAIR.with_ttl(60)], 50)  # expects 100/0, live is 90/10
    with pytest.raises(InvalidChangeBatch, match="do not match"):
        rr.apply_changes(live, stale, ZONE)


def test_a_shift_after_a_rollback_is_refused():
    live = rr.apply_changes(PAIR.with_ttl(60).records(), rr.rollback_changes([PAIR], {NAME: 3600})[0], ZONE)
    first_shift, _ = rr.shift_changes([PAIR.with_ttl(60)], 10)
    with pytest.raises(InvalidChangeBatch):
        rr.apply_changes(live, first_shift, ZONE)


def test_to_route53_adds_the_trailing_dot_and_from_route53_removes_it():
    sent = rr.to_route53(rr.convert_changes(SIMPLE, PAIR))
    assert all(c["ResourceRecordSet"]["Name"] == NAME + "." for c in sent)
    listed = {**SIMPLE, "Name": NAME.upper() + ".", "ResourceRecords": [{"Value": HEROKU + "."}]}
    assert rr.from_route53(listed) == SIMPLE


# Each real Route 53 rule, broken by one batch: (id, changes, phrase)
BROKEN = [
    ("weight above 255", [{"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, 256)}], "Weight must be 0-255"),
    ("negative weight", [{"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, -1)}], "Weight must be 0-255"),
    ("0/0", [{"Action": "CREATE", "ResourceRecordSet": weighted(rr.HEROKU_ID, HEROKU, 0)}, {"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, 0)}], "every weight is 0"),
    ("group TTL differs", [{"Action": "CREATE", "ResourceRecordSet": weighted(rr.HEROKU_ID, HEROKU, 90, ttl=60)}, {"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, 10, ttl=300)}], "share one TTL"),
    ("same SetIdentifier twice", [{"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, HEROKU, 90)}, {"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, 10)}], "written twice"),
    ("CNAME at the apex", [{"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, 10, name=ZONE)}], "zone apex"),
    ("simple beside weighted", [{"Action": "CREATE", "ResourceRecordSet": SIMPLE}, {"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, 10, ttl=3600)}], "simple record cannot coexist"),
    ("weight without SetIdentifier", [{"Action": "CREATE", "ResourceRecordSet": {**SIMPLE, "Weight": 10}}], "needs both SetIdentifier and Weight"),
    ("name outside the zone", [{"Action": "CREATE", "ResourceRecordSet": {**SIMPLE, "Name": "www.other.org"}}], "not in zone"),
    ("TTL out of range", [{"Action": "CREATE", "ResourceRecordSet": {**SIMPLE, "TTL": -1}}], "TTL must be"),
    ("CNAME with two values", [{"Action": "CREATE", "ResourceRecordSet": {**SIMPLE, "ResourceRecords": [{"Value": "a.example.com"}, {"Value": "b.example.com"}]}}], "exactly one value"),
    ("unknown action", [{"Action": "REPLACE", "ResourceRecordSet": SIMPLE}], "unknown action"),
    ("empty batch", [], "empty"),
]


@pytest.mark.parametrize(("changes", "phrase"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_the_checker_rejects_each_route53_rule(changes, phrase):
    with pytest.raises(InvalidChangeBatch, match=phrase):
        rr.check_changes(changes, ZONE)


def test_the_checker_accepts_every_batch_the_cutover_sends():
    pair60 = PAIR.with_ttl(60)
    batches = [
        rr.convert_changes(SIMPLE, PAIR),
        rr.ttl_changes([PAIR], {NAME: 60})[0],
        *(rr.shift_changes([pair60], w)[0] for w in (10, 50, 100)),
        rr.ttl_changes([pair60.with_weights(0, 100)], {NAME: 3600})[0],
        rr.rollback_changes([pair60], {NAME: 3600})[0],
    ]
    for batch in batches:
        rr.check_changes(batch, ZONE)


def test_apply_refuses_a_delete_that_does_not_match_exactly():
    wrong_ttl = {**SIMPLE, "TTL": 300}
    with pytest.raises(InvalidChangeBatch, match="do not match"):
        rr.apply_changes([SIMPLE], [{"Action": "DELETE", "ResourceRecordSet": wrong_ttl}], ZONE)


def test_apply_refuses_deleting_a_record_that_is_not_there():
    with pytest.raises(InvalidChangeBatch, match="not found"):
        rr.apply_changes([], [{"Action": "DELETE", "ResourceRecordSet": SIMPLE}], ZONE)


def test_apply_refuses_creating_a_record_that_exists():
    with pytest.raises(InvalidChangeBatch, match="already exists"):
        rr.apply_changes([SIMPLE], [{"Action": "CREATE", "ResourceRecordSet": SIMPLE}], ZONE)


def test_apply_refuses_weighted_records_beside_a_simple_one():
    with pytest.raises(InvalidChangeBatch, match="simple record cannot coexist"):
        rr.apply_changes([SIMPLE], [{"Action": "CREATE", "ResourceRecordSet": weighted(rr.AWS_ID, ALB, 0, ttl=3600)}], ZONE)


def test_apply_refuses_a_cname_beside_another_type():
    a_record = {"Name": NAME, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    with pytest.raises(InvalidChangeBatch, match="cannot coexist with other record types"):
        rr.apply_changes([a_record], [{"Action": "CREATE", "ResourceRecordSet": SIMPLE}], ZONE)


def test_apply_is_all_or_nothing():
    live = [SIMPLE]
    batch = rr.convert_changes(SIMPLE, PAIR) + [{"Action": "DELETE", "ResourceRecordSet": {**SIMPLE, "Name": "gone." + ZONE}}]
    with pytest.raises(InvalidChangeBatch):
        rr.apply_changes(live, batch, ZONE)
    assert live == [SIMPLE]


def test_apply_leaves_other_names_alone():
    other = {**SIMPLE, "Name": "api." + ZONE}
    after = rr.apply_changes([SIMPLE, other], rr.convert_changes(SIMPLE, PAIR), ZONE)
    assert other in after and SIMPLE not in after


def test_weights_for_refuses_shares_outside_0_to_100():
    with pytest.raises(ValueError):
        rr.weights_for(101)


def test_commit_replaces_the_pair_by_one_simple_cname_to_aws_in_one_batch_route53_accepts():
    pair = rr.Pair("www.shop.example.com", "tranquil-reef-1234.herokudns.com", "shop-alb.us-east-1.elb.amazonaws.com",
                   60, 0, 100, "hc-1")
    changes = rr.commit_changes(pair, 3600)
    assert [c["Action"] for c in changes] == ["DELETE", "DELETE", "CREATE"]
    assert changes[1]["ResourceRecordSet"]["HealthCheckId"] == "hc-1", "a DELETE repeats the health check"
    rr.check_changes(changes, "shop.example.com")
    after = rr.apply_changes(pair.records(), changes, "shop.example.com", as_route53=True)
    assert after == [rr.simple_record("www.shop.example.com", "shop-alb.us-east-1.elb.amazonaws.com", 3600)]
    # against the pair without its health check id (a stale view), Route 53 refuses the whole batch
    with pytest.raises(rr.InvalidChangeBatch):
        rr.apply_changes([r for r in pair.records()], rr.commit_changes(pair.with_health_check(None), 3600),
                         "shop.example.com", as_route53=True)


REVERTED_PAIR = rr.Pair("www.shop.example.com", "tranquil-reef-1234.herokudns.com",
                        "shop-alb.us-east-1.elb.amazonaws.com", 60, 0, 100)


def test_revert_turns_the_committed_simple_cname_into_the_heroku_one_route53_accepts():
    committed = rr.simple_record("www.shop.example.com", "shop-alb.us-east-1.elb.amazonaws.com", 300)
    changes, what = rr.revert_changes(REVERTED_PAIR, [committed], 3600)
    assert [c["Action"] for c in changes] == ["DELETE", "CREATE"] and "at TTL 3600" in what
    rr.check_changes(changes, "shop.example.com")
    after = rr.apply_changes([committed], changes, "shop.example.com", as_route53=True)
    assert after == [rr.simple_record("www.shop.example.com", "tranquil-reef-1234.herokudns.com", 3600)]


def test_revert_leaves_a_name_on_heroku_alone_and_refuses_one_someone_else_changed():
    on_heroku = rr.simple_record("www.shop.example.com", "tranquil-reef-1234.herokudns.com", 3600)
    assert rr.revert_changes(REVERTED_PAIR, [on_heroku], 3600)[0] == []
    elsewhere = rr.simple_record("www.shop.example.com", "other.example.net", 300)
    changes, why = rr.revert_changes(REVERTED_PAIR, [elsewhere], 3600)
    assert changes is None and "other.example.net" in why
    changes, why = rr.revert_changes(REVERTED_PAIR, REVERTED_PAIR.records(), 3600)
    assert changes is None and "weighted CNAME cutover-heroku (weight 0)" in why and "cutover-aws (weight 100)" in why
    changes, why = rr.revert_changes(REVERTED_PAIR, [], 3600)
    assert changes is None and why.startswith("www.shop.example.com: no record")
