"""The local stack executes state machines on moto's ASL interpreter, with Lambda tasks running the real
handlers in-process (devstack/executions.py). These tests fail loudly if a moto or botocore upgrade breaks
that mechanism (it relies on private behaviour of both; see devstack/executions.py).

How: the session `stack` (the real template.yaml) is running, so moto is up with Step Functions
executing. A tiny probe template written to tmp (one function, one state machine with
DefinitionSubstitutions) is deployed into the same moto with the same code DevStack.start() uses
(LocalExecutions), under its own names, and removed afterwards. The probe's handler never touches
runs_core, so these tests do not depend on the run logic.
"""

import inspect
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from devstack.executions import (
    DefinitionError,
    LocalExecutions,
    registered_function,
    state_machine_definition,
    substitute,
)
from devstack.lambdas import LocalFunction
from devstack.stack import DevStack
from devstack.template import FUNCTION_TYPE, REGION, STACK_NAME, Template

DEADLINE_S = 20.0

PROBE_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: local-sfn-probe
      CodeUri: sfn_probe/
      Handler: app.handler
      Runtime: python3.12
      Timeout: 30
  ProbeMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub "${AWS::StackName}-probe"
      Type: STANDARD
      DefinitionUri: probe.asl.json
      DefinitionSubstitutions:
        ProbeFunctionArn: !GetAtt ProbeFunction.Arn
"""

PROBE_ASL = {
    "Comment": "Probe of the local Step Functions: ${Placeholders} in a Comment are left alone.",
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.mode", "StringEquals": "invoke", "Next": "Invoke"},
                {"Variable": "$.mode", "StringEquals": "raise", "Next": "Raise"},
                {"Variable": "$.mode", "StringEquals": "wait", "Next": "Wait"},
                {"Variable": "$.mode", "StringEquals": "block", "Next": "Block"},
            ],
            "Default": "Unknown",
        },
        "Invoke": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${ProbeFunctionArn}",
                "Payload": {"action": "echo", "value.$": "$.value"},
            },
            "OutputPath": "$.Payload",
            "Next": "Route2",
        },
        "Route2": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.next", "StringEquals": "done", "Next": "Done"}],
            "Default": "Unknown",
        },
        "Raise": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${ProbeFunctionArn}", "Payload": {"action": "raise"}},
            "OutputPath": "$.Payload",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
            "Next": "Unknown",
        },
        "Caught": {"Type": "Pass", "End": True},
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "${ProbeFunctionArn}",
                "Payload": {"action": "park", "key.$": "$.key", "task_token.$": "$$.Task.Token"},
            },
            "TimeoutSecondsPath": "$.wait_seconds",
            "Catch": [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"},
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Unknown"},
            ],
            "Next": "Done",
        },
        "TimedOut": {"Type": "Pass", "Result": {"timed_out": True}, "End": True},
        "Block": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${ProbeFunctionArn}", "Payload": {"action": "block"}},
            "OutputPath": "$.Payload",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Unknown": {"Type": "Fail", "Error": "ProbeUnexpected", "Cause": "an unexpected path was taken"},
    },
}

PROBE_HANDLER = """
import threading

import boto3


class ProbeError(Exception):
    pass


PARKED = {}                   # key -> the park event (with its task token)
ENTERED = threading.Event()   # "block" is inside the handler
RELEASE = threading.Event()   # the test lets "block" return
SEEN = {}


def handler(event, context):
    SEEN["context_function_name"] = context.function_name
    action = event["action"]
    if action == "echo":
        remaining_ms = context.get_remaining_time_in_millis()
        return {"next": "done", "echo": event["value"], "remaining_ms": remaining_ms}
    if action == "raise":
        raise ProbeError("the probe failed on purpose")
    if action == "park":
        PARKED[event["key"]] = event
        return {"parked": True}
    if action == "block":
        # AWS calls from moto's worker thread, then wait while the test talks to moto from its thread.
        tables = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
        boto3.client("stepfunctions", region_name="us-east-1").list_state_machines()
        ENTERED.set()
        released = RELEASE.wait(20)
        return {"tables": len(tables), "released": released}
    raise ValueError(action)
"""


class Probe:
    def __init__(self, executions: LocalExecutions, function: LocalFunction) -> None:
        self.executions = executions
        self.function = function
        self.arn = executions.arns["ProbeMachine"]
        self.module: ModuleType = inspect.getmodule(function.handler)  # type: ignore[assignment]
        self.sfn = boto3.client("stepfunctions", region_name=REGION)

    def start(self, **execution_input: Any) -> str:
        response = self.sfn.start_execution(
            stateMachineArn=self.arn, name=f"probe-{uuid.uuid4().hex}", input=json.dumps(execution_input)
        )
        return str(response["executionArn"])

    def finished(self, execution_arn: str) -> dict[str, Any]:
        """describe_execution once it is no longer RUNNING (fails after DEADLINE_S)."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {DEADLINE_S} s"
            time.sleep(0.05)

    def parked(self, key: str) -> dict[str, Any]:
        """The park event the waitForTaskToken task sent to the handler (fails after DEADLINE_S)."""
        deadline = time.monotonic() + DEADLINE_S
        while key not in self.module.PARKED:
            assert time.monotonic() < deadline, f"the handler was not invoked with {key!r}"
            time.sleep(0.02)
        return dict(self.module.PARKED[key])


@pytest.fixture(scope="module")
def probe(stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    root: Path = tmp_path_factory.mktemp("sfn-probe")
    (root / "template.yaml").write_text(PROBE_TEMPLATE)
    (root / "probe.asl.json").write_text(json.dumps(PROBE_ASL, indent=2))
    (root / "sfn_probe").mkdir()
    (root / "sfn_probe" / "app.py").write_text(PROBE_HANDLER)
    template = Template(root / "template.yaml")
    functions = {
        logical_id: LocalFunction.load(logical_id, template.function_properties(logical_id), template.root)
        for logical_id in template.resources_of(FUNCTION_TYPE)
    }
    executions = LocalExecutions(
        template, functions, boto3.client("stepfunctions", region_name=REGION)
    ).start()
    probe = Probe(executions, functions["ProbeFunction"])
    try:
        yield probe
        # What DevStack.stop() does: executions still waiting are stopped, not left in moto's threads.
        waiting = probe.start(mode="wait", key=uuid.uuid4().hex, wait_seconds=300)
    finally:
        executions.stop()
    assert probe.finished(waiting)["status"] == "ABORTED"
    assert registered_function("local-sfn-probe") is None


# ---------------------------------------------------------------------- the mechanism


def test_lambda_task_runs_the_handler_in_process_and_the_execution_succeeds(probe: Probe) -> None:
    execution = probe.start(mode="invoke", value={"n": 1})
    described = probe.finished(execution)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["next"] == "done"
    assert output["echo"] == {"n": 1}
    assert 0 < output["remaining_ms"] <= 30_000  # the template's Timeout reaches the context
    assert probe.module.SEEN["context_function_name"] == "local-sfn-probe"


def test_a_handler_exception_is_a_lambda_error_that_catch_handles(probe: Probe) -> None:
    execution = probe.start(mode="raise")
    described = probe.finished(execution)
    assert described["status"] == "SUCCEEDED", described  # through Caught, not Unknown
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "ProbeError"  # the exception's class, as Lambda reports errorType
    cause = json.loads(error["Cause"])
    assert cause["errorType"] == "ProbeError"
    assert cause["errorMessage"] == "the probe failed on purpose"
    assert isinstance(cause["stackTrace"], list)


def test_wait_for_task_token_waits_until_send_task_success(probe: Probe) -> None:
    key = uuid.uuid4().hex
    execution = probe.start(mode="wait", key=key, wait_seconds=300)
    parked = probe.parked(key)
    token = parked["task_token"]
    assert isinstance(token, str) and token
    assert parked["action"] == "park"
    time.sleep(0.2)
    assert probe.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    probe.sfn.send_task_success(taskToken=token, output=json.dumps({"resumed": key}))
    described = probe.finished(execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"resumed": key}


def test_wait_timeout_takes_the_states_timeout_catch(probe: Probe) -> None:
    key = uuid.uuid4().hex
    execution = probe.start(mode="wait", key=key, wait_seconds=1)
    assert probe.parked(key)["task_token"]
    described = probe.finished(execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"timed_out": True}
    with pytest.raises(probe.sfn.exceptions.ClientError):  # the token is no longer valid
        probe.sfn.send_task_success(taskToken=probe.parked(key)["task_token"], output="{}")


def test_stop_execution_aborts_a_waiting_execution(probe: Probe) -> None:
    key = uuid.uuid4().hex
    execution = probe.start(mode="wait", key=key, wait_seconds=300)
    probe.parked(key)
    probe.sfn.stop_execution(executionArn=execution, error="RunCancelled", cause="test")
    described = probe.finished(execution)
    assert described["status"] == "ABORTED", described
    events = probe.sfn.get_execution_history(executionArn=execution)["events"]
    assert events[-1]["type"] == "ExecutionAborted"
    entered = [
        event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event
    ]
    assert entered == ["Route", "Wait"]  # the wait's Catch did not run


def test_stop_right_after_start_and_send_task_while_others_start(probe: Probe) -> None:
    """moto builds an execution's environment in its worker thread; devstack.executions makes
    StartExecution wait for it, so neither StopExecution nor a SendTask* scanning every running
    execution can meet one without it (that was an AttributeError, an HTTP 500)."""
    for _ in range(10):
        execution = probe.start(mode="wait", key=uuid.uuid4().hex, wait_seconds=300)
        with pytest.raises(probe.sfn.exceptions.InvalidToken):
            probe.sfn.send_task_success(taskToken="not-a-token", output="{}")
        probe.sfn.stop_execution(executionArn=execution)
        assert probe.finished(execution)["status"] == "ABORTED"


def test_a_running_handler_holds_no_lock(probe: Probe, stack: DevStack) -> None:
    """The handler calls moto from the worker thread; while it runs, this thread still reaches moto
    and the API (the moto lock is not held across a handler)."""
    probe.module.ENTERED.clear()
    probe.module.RELEASE.clear()
    execution = probe.start(mode="block")
    try:
        assert probe.module.ENTERED.wait(DEADLINE_S), "the handler's own AWS calls did not complete"
        results: dict[str, Any] = {}

        def meanwhile() -> None:
            results["tables"] = boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
            results["health"] = stack.request("GET", "/v1/health", {"Host": "127.0.0.1"})[0]

        worker = threading.Thread(target=meanwhile, daemon=True)
        worker.start()
        worker.join(DEADLINE_S)
        assert not worker.is_alive(), "moto or the API blocked while a handler was running"
        assert results["health"] == 200
    finally:
        probe.module.RELEASE.set()
    described = probe.finished(execution)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"tables": len(results["tables"]), "released": True}


def test_an_executions_asl_is_parsed_once_per_definition_and_its_program_is_its_own(
    probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """devstack.executions._cache_moto_parses: moto's per-execution ASL parse and per-read JSONPath parse
    are cached; each execution still evaluates a program object of its own."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    probe.finished(probe.start(mode="invoke", value={"n": 0}))  # parsed (at the latest) here
    parses: list[str] = []
    programs: list[Any] = []
    parse = AmazonStateLanguageParser.parse
    entrypoint = ExecutionWorker._get_evaluation_entrypoint

    def counting_parse(definition: str) -> Any:
        parses.append(definition)
        return parse(definition)

    def recording_entrypoint(self: Any) -> Any:
        program = entrypoint(self)
        programs.append(program)
        return program

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counting_parse))
    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", recording_entrypoint)
    for n in range(3):
        described = probe.finished(probe.start(mode="invoke", value={"n": n}))
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"])["echo"] == {"n": n}
    assert parses == []
    assert len({id(program) for program in programs}) == 3
    for module in (json_path, result_path):
        assert module.parse.cache_info().hits > 0, module  # type: ignore[attr-defined]


def test_a_program_is_unpickled_faithfully_or_not_at_all(stack: DevStack) -> None:
    """devstack.pickled_copies.faithful_copy accepts the run state machine's program unpickled (what each
    execution gets) and refuses a copy that differs or shares a mutable part with the parsed one."""
    import pickle

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from devstack.pickled_copies import NotFaithful, faithful_copy

    definition = state_machine_definition(Template(stack.template_path), "RunStateMachine")
    program = AmazonStateLanguageParser.parse(definition)[0]
    copy = pickle.loads(pickle.dumps(program))
    faithful_copy(program, copy)
    first = next(iter(copy.states.states.values()))
    first.name += "-changed"
    with pytest.raises(NotFaithful):
        faithful_copy(program, copy)
    copy = pickle.loads(pickle.dumps(program))
    copy.states.states = program.states.states  # shared with the parsed program
    with pytest.raises(NotFaithful):
        faithful_copy(program, copy)


class _Unpicklable:
    def __init__(self) -> None:
        self.step = lambda: None  # pickle cannot name a lambda


class _PickledDifferently:
    def __init__(self) -> None:
        self.states: list[str] = ["Begin"]

    def __reduce__(self) -> Any:
        return (_PickledDifferently, ())  # rebuilt without what was added after construction


def test_a_program_without_a_faithful_pickle_is_deep_copied_instead(caplog: pytest.LogCaptureFixture) -> None:
    from devstack.pickled_copies import pickled

    assert pickled(_Unpicklable()) is None
    changed = _PickledDifferently()
    changed.states.append("Step")
    assert pickled(changed) is None
    assert pickled(_PickledDifferently()) is not None
    assert "is deep-copied" in caplog.text


def test_direct_invoke_of_a_local_function(probe: Probe) -> None:
    client = boto3.client("lambda", region_name=REGION)
    ok = client.invoke(FunctionName="local-sfn-probe", Payload=json.dumps({"action": "echo", "value": 2}))
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.loads(ok["Payload"].read())["echo"] == 2

    failed = client.invoke(FunctionName=probe.function.arn, Payload=json.dumps({"action": "raise"}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "ProbeError"

    queued = client.invoke(
        FunctionName="local-sfn-probe",
        InvocationType="Event",
        Payload=json.dumps({"action": "echo", "value": 3}),
    )
    assert queued["StatusCode"] == 202

    with pytest.raises(client.exceptions.ResourceNotFoundException):  # not local: moto answers
        client.invoke(FunctionName="runs-action-not-deployed", Payload=b"{}")


# ---------------------------------------------------------------------- the real template


def test_the_real_state_machine_is_created_from_the_template(stack: DevStack) -> None:
    arn = stack.state_machines["RunStateMachine"]
    assert arn.endswith(f":stateMachine:{STACK_NAME}-run")
    assert os.environ["STATE_MACHINE_ARN"] == arn  # RunsFunction's !Ref RunStateMachine
    sfn = boto3.client("stepfunctions", region_name=REGION)
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["type"] == "STANDARD"
    definition = json.loads(described["definition"])
    states = json.dumps(definition["States"])
    assert "${" not in states, "an unresolved placeholder reached the state machine"
    function_names = {
        state["Parameters"]["FunctionName"]
        for state in definition["States"].values()
        if str(state.get("Resource", "")).startswith("arn:aws:states:::lambda:invoke")
    }
    run_step = stack.functions["RunStepFunction"]
    assert function_names == {run_step.arn}
    assert registered_function(run_step.arn) is run_step  # its Invokes run the real handler


def test_undefined_placeholders_fail_at_start(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Machine:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        "      DefinitionUri: machine.asl.json\n"
        "      DefinitionSubstitutions:\n"
        "        Known: arn:aws:lambda:us-east-1:000000000000:function:Known\n"
    )
    asl = {
        "Comment": "${NotChecked} in a comment",
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Result": {"a": "${Known}", "b": "${Typo}"}, "End": True}},
    }
    (tmp_path / "machine.asl.json").write_text(json.dumps(asl))
    with pytest.raises(DefinitionError, match=r"\$\{Typo\}"):
        state_machine_definition(Template(tmp_path / "template.yaml"), "Machine")
    assert json.loads(substitute('{"x": "${A}", "n": ${N}}', {"A": "a", "N": "3"})) == {"x": "a", "n": 3}
