"""How the CLI's one error path words each kind of failure, and its exit code."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ParamValidationError

from cutover.errors import CutoverError
from cutover_cli.failures import EXIT_FAILED, EXIT_UNREACHABLE, explain


def _client_error(code: str, message: str = "m") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeExecution")


@pytest.mark.parametrize(("exc", "code", "words"), [
    (_client_error("ExpiredToken", "The security token included in the request is expired"), EXIT_UNREACHABLE, "refresh them"),
    (_client_error("AccessDeniedException", "not authorized"), EXIT_FAILED, "operator policy"),
    (_client_error("ThrottlingException", "Rate exceeded"), EXIT_FAILED, "DescribeExecution with ThrottlingException"),
    (NoCredentialsError(), EXIT_UNREACHABLE, "Configure credentials"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), EXIT_UNREACHABLE, "http://127.0.0.1:9"),
    (CutoverError("the table is unavailable"), EXIT_FAILED, "CutoverError: the table is unavailable"),
])
def test_each_failure_is_one_line_with_what_to_do_and_its_exit_code(exc, code, words, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    message, got = explain(exc)
    assert got == code and words in message and "\n" not in message


def test_a_defect_is_not_dressed_as_a_users_problem():
    assert explain(ParamValidationError(report="Missing required parameter")) is None
    assert explain(KeyError("x")) is None
