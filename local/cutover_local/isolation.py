"""The engine never sees the user's AWS configuration: no endpoint, profile, config file or
credentials of theirs, so a rehearsal never talks to AWS or to another endpoint, whatever is
exported in the shell it runs in."""

from __future__ import annotations

import os

REGION = "us-east-1"
# what the engine's SDK clients run with (moto accepts any credentials)
ENGINE_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def isolate() -> dict[str, str | None]:
    """Replace every ``AWS_*`` variable of the process by the engine's own; what was there before
    (``restore`` puts it back)."""
    theirs = [key for key in os.environ if key.startswith("AWS_") and key not in ENGINE_ENVIRONMENT]
    saved = {key: os.environ.get(key) for key in [*ENGINE_ENVIRONMENT, *theirs]}
    for key in theirs:
        del os.environ[key]
    os.environ.update(ENGINE_ENVIRONMENT)
    return saved


def restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
