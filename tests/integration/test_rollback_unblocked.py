"""A rollback that nothing can block: a table outage, a name in an unexpected state, a long outage."""

from __future__ import annotations

import boto3

from cutover import records as rr
from cutover.adapters.store import Store
from cutover_local import seed
from cutover_local.harsh import outage
from tests.integration.driver import to_stage
from tests.integration.test_state_machine import weights
from tests.support import HEROKU, NAME, ZONE, plan

API = f"api.{ZONE}"


def pair_weights(world, name):
    return world.weights(name)


def test_one_name_restored_by_hand_does_not_keep_the_other_on_aws(world):
    seed.add_heroku_record(world.zone_id, API, HEROKU)
    state = to_stage(world, 1, raw=plan(hosted_zone_id=world.zone_id, records=[NAME, API]))
    assert world.weights(API) == {rr.HEROKU_ID: 90, rr.AWS_ID: 10}
    # someone puts www back to its simple CNAME by hand
    listed = {r["SetIdentifier"]: r for r in world.records(NAME)}
    world.edit_out_of_band([{"Action": "DELETE", "ResourceRecordSet": listed[rr.HEROKU_ID]},
                            {"Action": "DELETE", "ResourceRecordSet": listed[rr.AWS_ID]},
                            {"Action": "CREATE", "ResourceRecordSet": {"Name": NAME, "Type": "CNAME", "TTL": 60,
                                                                      "ResourceRecords": [{"Value": HEROKU}]}}])
    rolled = world.invoke("Rollback", {"cutover": state, "error": {"Error": "AlarmBreached", "Cause": "5xx"}})
    assert rolled["status"] == "ROLLED_BACK"
    assert world.weights(API) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert [r["ResourceRecords"][0]["Value"].rstrip(".") for r in world.records(NAME)] == [HEROKU]
    entry = next(e for e in world.ledger("exec-1") if e["event"] == "rolled_back")
    assert "restored by hand" in entry["found"][NAME] and entry["found"][API].startswith("weighted")
    assert world.lock_holder(NAME) is None and world.lock_holder(API) is None


def test_a_name_whose_pair_was_deleted_gets_it_back_on_heroku(world):
    state = to_stage(world, 1)
    listed = {r["SetIdentifier"]: r for r in world.records(NAME)}
    world.edit_out_of_band([{"Action": "DELETE", "ResourceRecordSet": listed[rr.AWS_ID]}])
    world.invoke("Rollback", {"cutover": state, "error": {"Error": "X", "Cause": "y"}})
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def test_a_table_outage_does_not_hold_traffic_on_aws(engine):
    """DynamoDB goes down during the first bake for two hours: Route 53 is put back first (the
    state travels with the execution), and the rollback keeps trying until the table answers."""
    engine.outages.append(outage("dynamodb", 3700, 7200))
    boto3.client("cloudwatch")  # the evaluation at the end of the bake meets the outage and fails
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="table-down")
    upserts = [engine.route53.insync_at(c) for c, (_, changes) in engine.route53.changes.items()
               if changes and all(ch["Action"] == "UPSERT" for ch in changes)]
    assert upserts, "the rollback reached Route 53"
    first = (upserts[0] - engine.clock.start).total_seconds()
    assert first < 3700 + 7200, "Route 53 was put back while the table was still down"
    assert (described["status"], described["error"]) == ("FAILED", "CutoverRolledBack"), "retried past the outage"
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert Store(engine.stack.table_name).lock_holder(NAME) is None
    blocked = [e for e in Store(engine.stack.table_name).ledger("table-down") if e["event"] == "rolled_back"]
    assert blocked and not blocked[0]["repeated"]
