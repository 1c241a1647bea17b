"""Step Functions: start, stop and resume run executions. The execution name is the run id."""

import json
from contextlib import suppress
from functools import cache
from typing import Any

from runs_core.observability import logger


@cache
def _client() -> Any:
    import boto3  # lazily: only routes that start, stop or resume runs pay for it

    return boto3.client("stepfunctions")


class Executions:
    def __init__(self, state_machine_arn: str | None) -> None:
        self.state_machine_arn = state_machine_arn

    @property
    def enabled(self) -> bool:
        return self.state_machine_arn is not None

    def execution_arn(self, run_id: str) -> str:
        assert self.state_machine_arn is not None
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_id}"

    def start(self, run_id: str) -> None:
        """Start the run's execution; starting it twice is harmless (same name, same input)."""
        if not self.enabled:
            return
        client = _client()
        try:
            client.start_execution(
                stateMachineArn=self.state_machine_arn, name=run_id, input=json.dumps({"run_id": run_id})
            )
        except client.exceptions.ExecutionAlreadyExists:
            logger.info("execution already started", extra={"run_id": run_id})

    def stop(self, run_id: str, cause: str, execution_arn: str | None = None) -> None:
        """Stop the run's execution: `execution_arn` when the run continued in another one (it records
        it), else the one named after the run."""
        if not self.enabled:
            return
        client = _client()
        # A created run never started; a finished execution may be gone: nothing to stop then.
        with suppress(client.exceptions.ExecutionDoesNotExist):
            arn = execution_arn or self.execution_arn(run_id)
            client.stop_execution(executionArn=arn, error="RunCancelled", cause=cause[:256])

    def resume(self, task_token: str, run_id: str) -> bool:
        """Complete a wait task; False if the token is no longer valid (the wait ended another way)."""
        client = _client()
        try:
            client.send_task_success(taskToken=task_token, output=json.dumps({"run_id": run_id}))
        except (
            client.exceptions.TaskTimedOut,
            client.exceptions.TaskDoesNotExist,
            client.exceptions.InvalidToken,
        ):
            logger.warning("task token no longer valid", extra={"run_id": run_id})
            return False
        return True
