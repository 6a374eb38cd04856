"""Step Functions: end a cutover's execution from outside it (the alarm listener)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .clients import Adapter, error_code


class StepFunctions(Adapter):
    service = "stepfunctions"

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
