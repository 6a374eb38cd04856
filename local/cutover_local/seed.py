"""What a rehearsal or a test starts from: a hosted zone with the Heroku CNAME, and alarms."""

from __future__ import annotations

from collections.abc import Iterable

import boto3


def zone_with_heroku_record(zone: str, name: str, heroku_target: str, ttl: int = 3600) -> str:
    """Create ``zone`` holding ``name`` as a simple CNAME to ``heroku_target``; return the zone id."""
    r53 = boto3.client("route53")
    zone_id = r53.create_hosted_zone(Name=zone, CallerReference=f"seed-{zone}")["HostedZone"]["Id"].split("/")[-1]
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": heroku_target}]}}]},
    )
    return zone_id


def alarms(names: Iterable[str], state: str = "OK") -> None:
    """Metric alarms with these names (their metric does not matter until traffic is simulated)."""
    cw = boto3.client("cloudwatch")
    for name in names:
        cw.put_metric_alarm(
            AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        )
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="seeded")
