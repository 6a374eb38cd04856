"""The probe function on the engine: every minute while a cutover is live, both origins of every
name every 10 seconds, published as high-resolution metrics; idle otherwise; and waiting between
its rounds without holding up any other function."""

from __future__ import annotations

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from cutover_local import seed
from cutover_local.engine import ACCOUNT, REGION, Engine
from tests.support import HEROKU, NAME, ZONE, plan


def probe_data(engine):
    """(virtual second, origin, metric, value) of every datum the probe put."""
    backend = cloudwatch_backends[ACCOUNT][REGION]
    start = engine.clock.start.replace(tzinfo=None)
    return [((d.timestamp.replace(tzinfo=None) - start).total_seconds(), dict((x.name, x.value) for x in d.dimensions)["Origin"],
             d.name, d.value) for d in backend.metric_data if d.namespace == "Cutover/Probes"]


def test_while_the_cutover_is_live_both_origins_are_probed_every_10_seconds_and_the_probe_is_idle_after(engine):
    described = engine.run(plan(hosted_zone_id=engine.zone_id, probe=None), name="probed")  # the defaults
    assert described["status"] == "SUCCEEDED", described.get("cause")
    probes = [i for i in engine.invocations if i.function == "ProbeFunction"]
    assert probes and all(i.error is None for i in probes)
    ended = engine.ended_at[described["executionArn"]]
    live = [i for i in probes if i.result["cutovers"]]
    # the live entry ends with the cutover (the minute under way then finishes its rounds)
    assert live and all(i.virtual_at < ended for i in live[:-1]) and live[-1].virtual_at < ended + 60
    assert all(i.result["rounds"] == 6 and i.result["errors"] == 0 for i in live[1:-1])
    idle = [i for i in probes if i.virtual_at > ended + 60]
    assert idle and all(i.result["rounds"] == 0 for i in idle), "the schedule is idle once nothing is live"
    requests = sorted((t, origin) for t, origin, metric, _ in probe_data(engine) if metric == "Requests")
    for origin in ("aws", "heroku"):
        stamps = [t for t, o in requests if o == origin]
        gaps = {round(b - a) for a, b in zip(stamps, stamps[1:], strict=False)}
        assert 10 in gaps and max(gaps) <= 20, gaps  # 10 s apart (the minute's turn leaves up to 20 s)
    assert {v for _, _, metric, v in probe_data(engine) if metric == "Requests"} == {20.0}  # the default a round


def test_other_functions_run_while_the_probe_waits_between_its_rounds(engine):
    engine.run(plan(hosted_zone_id=engine.zone_id, probe=None), name="interleaved")
    probes = [i for i in engine.invocations if i.function == "ProbeFunction" and i.result and i.result["rounds"]]
    others = [i.virtual_at for i in engine.invocations if i.function != "ProbeFunction"]
    inside = [t for t in others for p in probes if p.virtual_at < t < p.virtual_at + 50]
    assert inside, "every other invocation waited for a probe's minute to end"


def test_a_plan_that_switches_probes_off_is_not_probed(engine):
    quiet = plan(hosted_zone_id=engine.zone_id, probe={"skip": "the origins answer only inside the VPC"})
    assert engine.run(quiet, name="unprobed")["status"] == "SUCCEEDED"
    assert [i for i in engine.invocations if i.function == "ProbeFunction" and i.result["rounds"]] == []
    assert probe_data(engine) == []


def test_a_failing_probe_function_neither_rolls_back_nor_stops_the_cutover_and_is_not_retried(engine):
    def broken(event):
        raise RuntimeError("the probe's container crashed")

    engine.faults["ProbeFunction"] = broken
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="unprobed-by-accident")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    failed = [i for i in engine.invocations if i.function == "ProbeFunction"]
    assert failed and all(i.error == "RuntimeError" for i in failed)
    # one invocation a minute, none retried (MaximumRetryAttempts: 0), each event dropped and counted
    minutes = [t for name, t in engine.scheduled if name.startswith("ProbeFunction.")]
    assert len(failed) == len(minutes)
    assert sum(1 for logical, _ in engine.async_dropped if logical == "ProbeFunction") == len(failed)
    # with no probe figures, the comparison with Heroku is not judged: it never fails a stage
    from cutover.adapters.store import Store

    evaluated = [e for e in Store(engine.stack.table_name).ledger("unprobed-by-accident") if e["event"] == "evaluated"]
    assert evaluated and all(n["outcome"] == "not_judged" for e in evaluated for n in e["compare"])


@pytest.mark.parametrize("status", [200, 503])
def test_real_requests_reach_the_loopback_origins_with_the_name_as_host(status):
    with Engine(real_probes=True) as engine:
        zone_id = seed.zone_with_heroku_record(ZONE, NAME, HEROKU)
        stack = engine.deploy({"HostedZoneIds": zone_id, "RecordNames": NAME})
        engine.origins.aws.status = status
        from cutover.adapters.store import Store

        Store(stack.table_name).mark_live("c1", None, (), {
            "interval": 10, "timeout": 2, "requests": 2, "path": "/",
            "targets": [[NAME, "aws", "shop-alb-1.us-east-1.elb.amazonaws.com"], [NAME, "heroku", HEROKU]]})
        engine.settle(115)  # the schedule's first minute (60 s to 110 s)
        minute = next(i for i in engine.invocations if i.function == "ProbeFunction")
        assert minute.error is None and minute.result["rounds"] >= 1
        assert minute.result["errors"] == (minute.result["rounds"] * 2 if status == 503 else 0)
        assert {r["host"] for r in engine.origins.aws.requests + engine.origins.heroku.requests} == {NAME}
