"""Settings every test shares: no network, fake AWS credentials, Powertools quiet."""

import os

# Set before any boto3 client or Powertools object exists.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_SERVICE_NAME": "cutover",
        "POWERTOOLS_METRICS_NAMESPACE": "Cutover",
    }
)
for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(key, None)
