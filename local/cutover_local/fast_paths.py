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
- ``one_backup_per_transaction``: before a TransactWriteItems moto deep-copies a table for each
  of the transaction's items, to put back if any fails; the copies are alike (all are made
  before the first write), so one per table is made. A campaign's lock transactions copy the
  whole table, its ledger of every cutover: 84 ms a call at 50 names, 64 ms with one copy (the
  one left is most of it; backing up only the items a transaction touches would remove it).
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from moto.core import responses as core_responses
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models.table import Table

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


class _CopyOncePerTransaction:
    """The ``copy`` module as moto's DynamoDB backend sees it: inside a transaction, a table's
    deep copy is made once and handed out again; anything else is copied as ``copy`` does."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        made = getattr(self.local, "tables", None)
        if made is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in made:
            made[id(value)] = (value, copy.deepcopy(value, memo))  # the table kept: its id stays its own
        return made[id(value)][1]


def one_backup_per_transaction(patches: Patches) -> None:
    shim = _CopyOncePerTransaction()
    transact = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        shim.local.tables = {}
        try:
            transact(backend, transact_items)
        finally:
            shim.local.tables = None

    patches.set(dynamodb_models, "copy", shim)
    patches.set(dynamodb_models.DynamoDBBackend, "transact_write_items", transact_write_items)
