"""The agent loop, one Step Functions task at a time (docs/architecture.md data flow).

`loop.step` does one agent step: it resolves the tool calls of the last decision (running the actions that
need no approval, pausing for approval or user input), then asks the model for the next decision.
Every change is a conditional write on the run's `rev` together with its events and step records (a
runs_core.changes.Change, RunStore.commit), so a step that loses a race with a cancel writes nothing
and stops.

The state machine routes on what `step` returns: {"next": "continue" | "approval" | "input" | "done"}.
A wait task calls `park` with its task token; the API's approval/input endpoints record the decision
and complete the token; `expire` ends a wait that timed out; `fail` records an unexpected error.

One job per module, lower ones first:
    unit         the unit of work: the run as read, one Change committed, what a step knows (Progress)
    metering     tokens → usage, cost and credits; the run-finished metrics
    ending       failing a run (limits, errors), its duration
    limits       the limits checked before a step and during a model call
    prompt       the model request: instructions, conversation, tools
    outputs      the run's outputs when it completes
    waits        pausing for approval or input, parking the task token, expiring a wait
    tool_calls   the unresolved tool calls of a decision: run the action, or pause for it
    live         what a decision writes while the model streams (LiveMessage)
    decision     one model call and what it decided
    loop         one step: start, resolve calls, decide, resolve again
    tasks        the RunStepFunction's entry point: dispatch on the task's action, retry lost races
    execution_ended  runs whose Step Functions execution ended without recording it
"""
