"""Helpers the tests share: the template as data, plans, and loading a function's handler."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from cutover_local.template import load as load_template

ROOT = Path(__file__).resolve().parents[1]
ASL_PATH = ROOT / "statemachines" / "cutover.asl.json"
TEMPLATE_PATH = ROOT / "template.yaml"

ZONE_ID = "Z0123456789ABCDEFGHIJ"
ZONE = "shop.example.com"
NAME = "www.shop.example.com"
HEROKU = "tranquil-reef-1234.herokudns.com"
ALB = "shop-alb-123456789.us-east-1.elb.amazonaws.com"
ALARMS = ["shop-5xx-rate", "shop-p99-latency"]

BASE_PLAN: dict[str, Any] = {
    "hosted_zone_id": ZONE_ID,
    "records": [NAME],
    "heroku": {"target": HEROKU},
    "aws": {"target": ALB},
    "ttl": {"during": 60},
    "stages": [{"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "20m"}, {"weight": 100, "bake": "30m"}],
    "alarms": list(ALARMS),
    "insufficient_data": "wait",
    "watch": 0,  # committed as soon as it succeeds (the watch has its own tests)
    # these plans name no probe alarm: probed lightly (the probes' defaults have their own tests)
    "probe": {"interval": "30s", "requests": 1},
}


def plan(**changes: Any) -> dict[str, Any]:
    """BASE_PLAN with top-level fields replaced (None removes a field)."""
    out = copy.deepcopy(BASE_PLAN)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


def load_handler(function_dir: str) -> ModuleType:
    """Import ``functions/<dir>/app.py`` as its own module, as Lambda does from its CodeUri."""
    path = ROOT / "functions" / function_dir / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{function_dir}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
