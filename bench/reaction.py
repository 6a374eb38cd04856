"""Benchmark: alarm-driven rollback.

    .venv/bin/python bench/reaction.py [--runs 200]

(a) Reaction time: from an ALARM event reaching the alarm listener's handler to the rollback
    change being submitted to Route 53, warm, in-process on the local engine (moto), over many
    live cutovers. Median and p99.
(b) Exposure after a breach early in a 10-minute bake (errors start 60 s into the 10% stage,
    20% of AWS requests fail), on the harsh engine with CloudWatch's metric lag, caught by
    (1) the between-stage checks (and the reconciler's 5-minute recheck) on the load balancer
    alarms, without the alarm listener; (2) the listener on the load balancer alarms; (3) the
    listener on the probes' 10-second alarms too (the default plan). For each: seconds from the
    first failing request to Heroku INSYNC, the requests users saw fail (the simulated traffic's
    AWS 5XX from the breach on, resolvers that ignore TTLs included), and the AWS weight in
    percent DNS served times those seconds. The failed requests are also split at Heroku INSYNC:
    before it, what detection and the rollback decide; after it, clients that still hold the AWS
    answer (its TTL, and the 5% of clients that ignore TTLs for up to 30 minutes), the same
    whoever caught the breach. Medians over ``--seeds`` seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

import logging  # noqa: E402
import warnings  # noqa: E402

import boto3  # noqa: E402

from cutover import steps  # noqa: E402
from cutover.handler import deps  # noqa: E402
from cutover.observability import metrics  # noqa: E402
from cutover.reactions import RECONCILE_MINUTES  # noqa: E402
from cutover_local import seed  # noqa: E402
from cutover_local.engine import ACCOUNT, REGION, Engine  # noqa: E402
from cutover_local.eventbridge import alarm_state_change  # noqa: E402
from cutover_local.rehearsal import rehearse  # noqa: E402
from cutover_local.scenarios import DEFAULT_PLAN, LOAD_BALANCER_ALARMS, PROBE_ALARMS, Scenario  # noqa: E402
from cutover_local.traffic import Effect  # noqa: E402

warnings.filterwarnings("ignore")
logging.getLogger("moto").setLevel(logging.CRITICAL)
RECONCILE_SECONDS = 60 * RECONCILE_MINUTES
NAME, ZONE, HEROKU = "www.shop.example.com", "shop.example.com", "tranquil-reef-1234.herokudns.com"


def reaction_times(runs: int, warmup: int = 5) -> list[float]:
    times: list[float] = []
    with Engine() as engine:
        zone_id = seed.zone_with_heroku_record(ZONE, NAME, HEROKU)
        seed.alarms(DEFAULT_PLAN["alarms"])
        engine.deploy({"HostedZoneIds": zone_id, "RecordNames": NAME})
        listener = next(f for f in engine.stack.functions.values() if f.logical_id == "AlarmListenerFunction")
        alarm = boto3.client("cloudwatch").describe_alarms(AlarmNames=[DEFAULT_PLAN["alarms"][0]])["MetricAlarms"][0]
        submitted: list[float] = []
        original_apply = engine.route53.apply

        def timed_apply(backend, zoneid, change_list):
            original_apply(backend, zoneid, change_list)
            submitted.append(time.perf_counter())

        engine.route53.apply = timed_apply
        plan = dict(DEFAULT_PLAN, hosted_zone_id=zone_id)
        for i in range(runs + warmup):
            # These cutovers have no execution: the reconciler (every 5 minutes) rightly ends any
            # it finds live. Each one here lives a few virtual seconds, away from its runs.
            if engine.clock.elapsed % RECONCILE_SECONDS > RECONCILE_SECONDS - 70:
                engine.settle(RECONCILE_SECONDS - engine.clock.elapsed % RECONCILE_SECONDS + 1)
            with _env(listener.environment):
                deps.cache_clear()
                d = deps()
                state = steps.lower_ttl(steps.preflight(plan, f"bench-{i}", d, execution_arn=None), d)
            # the first shift needs the Route 53 health checkers' first reports (one interval)
            engine.settle(31)
            with _env(listener.environment):
                state = steps.shift(state, d)
            # the alarm fires a while after the shift: the watch has reached the (eventually
            # consistent) index and Route 53's request budget has refilled
            engine.settle(5)
            event = alarm_state_change(alarm, "OK", "ALARM", "bench", engine.clock.now(), ACCOUNT, REGION)
            submitted.clear()
            with _env(listener.environment):
                started = time.perf_counter()
                result = listener.module.lambda_handler(json.loads(json.dumps(event)), _Context())
            assert result["rolled_back"] == [f"bench-{i}"], (i, engine.clock.elapsed, result)
            metrics.clear_metrics()  # steps called outside a handler: nothing to publish
            if i >= warmup:
                times.append(submitted[0] - started)
    return times


class _Context:
    function_name = "AlarmListener"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:AlarmListener"
    memory_limit_in_mb = 256
    aws_request_id = "bench"


class _env:
    def __init__(self, variables):
        self.variables = variables

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.variables}
        os.environ.update(self.variables)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def exposure(listener: bool, alarms: list[str], seed_value: int, insync_after: int = 25) -> dict[str, float]:
    """Seconds from the breach to the rollback INSYNC, failed user requests, percent-seconds."""
    plan = {**DEFAULT_PLAN, "alarms": alarms}
    scenario = Scenario("early-breach", "", plan=plan, traffic=(Effect("aws", stage=1, after=60, error_rate=0.2),),
                        insync_after=insync_after)
    result, timeline = rehearse(scenario, say=lambda line: None, alarm_listener=listener, seed_value=seed_value)
    assert result["status"] == "ROLLED_BACK", result
    breach = timeline.stage_started[1] + 60
    end = timeline.rollback_insync_at
    # DNS serves a written weight from the moment its change is INSYNC
    served = [(t + insync_after, w) for t, w in timeline.weights]
    total = 0.0
    for (t, w), (t_next, _) in zip(served, served[1:] + [(end, 0)], strict=False):
        lo, hi = max(t, breach), min(t_next, end)
        if hi > lo:
            total += w * (hi - lo)
    failed = sum(n for t, n in timeline.failures if t > breach)
    # until Heroku INSYNC: what detection and the rollback decide; after it: clients still on AWS
    # as their cached answers (or the TTL-ignoring ones') expire, the same whoever caught it
    # (the traffic's 10-second ticks, each counted by its end)
    before = sum(n for t, n in timeline.failures if breach < t <= end)
    return {"seconds": end - breach, "failed": failed, "failed_before_insync": before, "failed_after_insync": failed - before,
            "percent_seconds": total}


WAYS = (
    ("between-stage checks only (no listener), load balancer alarms", False, list(LOAD_BALANCER_ALARMS)),
    ("listener, load balancer alarms", True, list(LOAD_BALANCER_ALARMS)),
    ("listener, load balancer and probe alarms (default)", True, [*LOAD_BALANCER_ALARMS, *PROBE_ALARMS]),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5, help="rehearsals of each way of catching the breach")
    args = parser.parse_args()
    if args.runs:
        times = sorted(reaction_times(args.runs))
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        print(f"(a) reaction, ALARM event at the listener -> rollback change submitted, warm, in-process, n={len(times)}:")
        print(f"    median {1000 * statistics.median(times):.1f} ms, p99 {1000 * p99:.1f} ms, max {1000 * times[-1]:.1f} ms")
    print(f"(b) a breach 60 s into the 10-minute 10% stage (20% of AWS requests fail), medians of seeds 1-{args.seeds}:")
    print(f"    {'caught by':<55} {'to Heroku INSYNC':>16} {'failed requests':>16} {'before INSYNC':>14} "
          f"{'after':>6} {'AWS %-s':>9}")
    keys = ("seconds", "failed", "failed_before_insync", "failed_after_insync", "percent_seconds")
    medians = []
    for label, listener, alarms in WAYS:
        runs = [exposure(listener, alarms, seed_value) for seed_value in range(1, args.seeds + 1)]
        m = {k: statistics.median(r[k] for r in runs) for k in keys}
        medians.append(m)
        print(f"    {label:<55} {m['seconds']:>14.0f} s {m['failed']:>16.0f} {m['failed_before_insync']:>14.0f} "
              f"{m['failed_after_insync']:>6.0f} {m['percent_seconds']:>9.0f}")
    first, last = medians[0], medians[-1]
    print(f"    probes vs between-stage checks: {first['failed'] / max(last['failed'], 1):.1f}x fewer failed requests "
          f"({first['failed_before_insync'] / max(last['failed_before_insync'], 1):.1f}x until Heroku INSYNC), "
          f"{first['seconds'] / last['seconds']:.1f}x sooner")


if __name__ == "__main__":
    main()
