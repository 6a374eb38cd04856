"""Logger, tracer and metrics, set up once here and imported everywhere else.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set in template.yaml's Globals).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="cutover")
tracer = Tracer(service="cutover")
metrics = Metrics(namespace="Cutover", service="cutover")
