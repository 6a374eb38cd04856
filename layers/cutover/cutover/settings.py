"""Settings of a deployed control plane, read once from the environment by each handler."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _names(value: str | None) -> frozenset[str] | None:
    """A comma-separated list; empty or ``*`` means no restriction."""
    items = [v.strip().lower().rstrip(".") for v in (value or "").split(",") if v.strip()]
    if not items or items == ["*"]:
        return None
    return frozenset(items)


@dataclass(frozen=True)
class Settings:
    table_name: str
    topic_arn: str | None = None
    allowed_zone_ids: frozenset[str] | None = None
    allowed_names: frozenset[str] | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        table = env.get("TABLE_NAME")
        if not table:
            raise RuntimeError("TABLE_NAME is not set: the function was deployed without its table")
        zones = _names(env.get("ALLOWED_ZONE_IDS"))
        return cls(
            table_name=table,
            topic_arn=env.get("TOPIC_ARN") or None,
            allowed_zone_ids=frozenset(z.upper() for z in zones) if zones else None,
            allowed_names=_names(env.get("ALLOWED_RECORD_NAMES")),
        )
