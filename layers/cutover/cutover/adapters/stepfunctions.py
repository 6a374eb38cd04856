"""Step Functions: end a cutover's execution from outside it, or answer a waiting promotion gate."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .clients import Adapter, error_code

_GONE = {"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"}


class StepFunctions(Adapter):
    service = "stepfunctions"

    def status(self, execution_arn: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None when there is no such execution."""
        try:
            return str(self.api.describe_execution(executionArn=execution_arn)["status"])
        except ClientError as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn"):
                return None
            raise

    def stop(self, execution_arn: str, error: str, cause: str) -> bool:
        """Stop a running execution; False when it had already ended or does not exist."""
        try:
            status = self.api.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING":
                return False
            self.api.stop_execution(executionArn=execution_arn, error=error[:256], cause=cause[:32768])
        except ClientError as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn"):
                return False
            raise
        return True

    def send_success(self, token: str, output: dict[str, Any]) -> bool:
        """Let a task waiting for ``token`` go on; False when the task is no longer waiting."""
        try:
            self.api.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if error_code(exc) in _GONE:
                return False
            raise
        return True

    def send_failure(self, token: str, error: str, cause: str) -> bool:
        """Fail a task waiting for ``token``; False when the task is no longer waiting."""
        try:
            self.api.send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])
        except ClientError as exc:
            if error_code(exc) in _GONE:
                return False
            raise
        return True
