"""Where moto is slow at what does not change the answer, and the engine takes a shorter way.

Every answer a function gets stays the one moto gives, byte for byte once parsed by botocore
(``tests/integration/test_fast_paths.py`` compares them); only the work of building it is shorter.

- ``plain_dynamodb_results``: moto serializes each DynamoDB result by walking the operation's
  output shape, AttributeValue by AttributeValue. A result that is already DynamoDB's JSON (the
  items of GetItem, Query, Scan, PutItem...) is written as it is. Half the CPU of an engine
  test went to it: the probe function reads the live cutovers every minute, the reconciler
  every five, and each live item carries its plan.
- ``action_names_once``: moto lists a response class's methods (``inspect.getmembers``) on
  every request to find the action; the list is kept per class until an attribute is patched.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core import responses as core_responses
from moto.dynamodb import responses as dynamodb_responses

from .harsh import Patches


class _NotPlain(Exception):  # noqa: N818 - a signal to take moto's own way, not an error
    pass


def wire_json(value: Any) -> Any:
    """``value`` as DynamoDB's JSON carries it: members that are None left out, as moto's
    serializer leaves them out. Anything that JSON does not carry as it is (a datetime, bytes)
    raises ``_NotPlain``. (moto keeps a binary attribute as its base64 text already.)"""
    if isinstance(value, dict):
        return {key: wire_json(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [wire_json(item) for item in value]
    if isinstance(value, (str, bool, int, float)):
        return value
    raise _NotPlain


def plain_dynamodb_results(patches: Patches) -> None:
    taken = dynamodb_responses.DynamoResult.execute_result

    def execute_result(result: Any, context: Any) -> Any:
        try:
            body = wire_json(result.result)
        except _NotPlain:
            return taken(result, context)
        version = context.service_model.metadata.get("jsonVersion", "1.0")
        status = context.operation_model.http.get("responseCode", 200)
        return status, {"Content-Type": f"application/x-amz-json-{version}"}, json.dumps(body)

    patches.set(dynamodb_responses.DynamoResult, "execute_result", execute_result)


def action_names_once(patches: Patches) -> None:
    listed = core_responses.method_names_from_class
    kept: dict[type, frozenset[str]] = {}
    seen = [Patches.generation]

    def method_names_from_class(clazz: type) -> frozenset[str]:
        if seen[0] != Patches.generation:  # a method may have come or gone: list them again
            kept.clear()
            seen[0] = Patches.generation
        if clazz not in kept:
            kept[clazz] = frozenset(listed(clazz))
        return kept[clazz]

    patches.set(core_responses, "method_names_from_class", method_names_from_class)
