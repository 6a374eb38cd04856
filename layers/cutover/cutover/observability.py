"""Logger, tracer and metrics, set up once here and imported everywhere else.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set in template.yaml's Globals).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger(service="cutover")
tracer = Tracer(service="cutover")
metrics = Metrics(namespace="Cutover", service="cutover")


def record_aws_percent(cutover_id: str, percent: int) -> None:
    """The AWS share a cutover intends now, as its own metric with the cutover as a dimension
    (the stack's dashboard draws one line per live cutover); the handler's other metrics keep
    their dimensions. ``single_metric`` prints at once whatever POWERTOOLS_METRICS_DISABLED says:
    honoured here (the rehearsal's stdout is its JSON)."""
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true"):
        return
    with single_metric(name="AwsPercentIntended", unit=MetricUnit.Percent, value=percent, namespace="Cutover",
                       default_dimensions={"service": "cutover"}) as metric:
        metric.add_dimension(name="Cutover", value=cutover_id)
