"""What a rehearsal or a test starts from: a hosted zone with the Heroku CNAME, and alarms."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3

from .template import PROJECT_ROOT, resolve
from .template import load as load_template
from .traffic import LOAD_BALANCER


def zone_with_heroku_record(zone: str, name: str, heroku_target: str, ttl: int = 3600) -> str:
    """Create ``zone`` holding ``name`` as a simple CNAME to ``heroku_target``; return the zone id."""
    r53 = boto3.client("route53")
    zone_id = r53.create_hosted_zone(Name=zone, CallerReference=f"seed-{zone}")["HostedZone"]["Id"].split("/")[-1]
    add_heroku_record(zone_id, name, heroku_target, ttl)
    return zone_id


def add_heroku_record(zone_id: str, name: str, heroku_target: str, ttl: int = 3600) -> None:
    """Add ``name`` to the zone as a simple CNAME to ``heroku_target``."""
    boto3.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": heroku_target}]}}]},
    )


def alarms(names: Iterable[str], state: str = "OK", load_balancer: str = LOAD_BALANCER) -> None:
    """Metric alarms with these names on the load balancer's target 5XX (their metric does not
    matter until traffic is simulated; the load balancer is the one users reach on AWS)."""
    cw = boto3.client("cloudwatch")
    for name in names:
        cw.put_metric_alarm(
            AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
            Dimensions=[{"Name": "LoadBalancer", "Value": load_balancer}],
            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        )
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="seeded")


EXAMPLE_ALARMS = PROJECT_ROOT / "examples" / "alarms.yaml"


def example_alarms(names: Iterable[str], load_balancer: str, target_group: str,
                   prefix: str = "shop") -> list[dict[str, Any]]:
    """Create the plan's alarms from ``examples/alarms.yaml`` (the ALB error-rate and latency
    alarms), in INSUFFICIENT_DATA as a new alarm starts. A name the example does not define gets
    the error-rate definition. Returns the alarms as DescribeAlarms shows them."""
    spec = load_template(EXAMPLE_ALARMS)
    refs = {name: p.get("Default") for name, p in spec["Parameters"].items()}
    refs.update({"LoadBalancerFullName": load_balancer, "TargetGroupFullName": target_group, "AlarmPrefix": prefix,
                 "AWS::Region": "us-east-1"})
    by_name = {}
    for resource in spec["Resources"].values():
        props = resolve(resource["Properties"], refs, {})
        by_name[props["AlarmName"]] = props
    default = next(p for p in by_name.values() if p.get("Metrics"))
    cw = boto3.client("cloudwatch")
    wanted = list(names)
    for name in wanted:
        props = dict(by_name.get(name, default), AlarmName=name)
        for key in ("Threshold", "EvaluationPeriods", "DatapointsToAlarm", "Period"):
            if key in props:
                props[key] = float(props[key]) if key == "Threshold" else int(props[key])
        cw.put_metric_alarm(**props)
        cw.set_alarm_state(AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason="Unchecked: Initial alarm creation")
    return cw.describe_alarms(AlarmNames=wanted)["MetricAlarms"]
