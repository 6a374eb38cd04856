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


def pytest_collection_finish(session):
    """The engine allocates many short-lived objects (every AWS call is parsed and serialized
    twice); with CPython's default thresholds the cyclic collector runs every 700 of them and
    walks the whole heap of loaded modules and service models each time it reaches the oldest
    generation. Those are frozen once collected, and young objects collected less often."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
