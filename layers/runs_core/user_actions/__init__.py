"""Your python actions: this package ships in the runs_core layer, next to runs_core.

To add an action:

1. Write a function in a module of this package (e.g. `user_actions/invoices.py`) that takes
   `(arguments: dict, ctx: ActionContext)` and returns JSON-serialisable data, and decorate it:

       from runs_core.actions.base import ActionContext, ActionError
       from runs_core.actions.python import action

       @action
       def lookup_invoice(arguments: dict, ctx: ActionContext) -> dict:
           invoice_id = arguments.get("invoice_id")
           if not isinstance(invoice_id, str):
               raise ActionError("`invoice_id` must be a string")  # the model reads this message
           return {"invoice_id": invoice_id, "status": "open"}

   `@action("other_name")` registers it under another name instead of the function's own.

2. Point an agent's action at it (docs/api.md §3):

       {"name": "lookup_invoice", "kind": "python", "handler": "user_actions.invoices:lookup_invoice",
        "parameters": {"type": "object", "properties": {"invoice_id": {"type": "string"}}}}

3. Redeploy (`sam build && sam deploy`): the layer carries this package.

Only functions registered with `@action` can be called, and only modules of the packages in
RUNS_API_ACTION_PACKAGES (default: this one) are imported on demand. `ctx` has `run_id`, `org_id`,
`agent_id`, `memory` (get/set) and `set_output(key, value)`. Raise `ActionError` for failures the
model should see; any other exception reaches it only as "action … failed: <ExceptionType>" (the
details go to the logs). The function runs inside the engine's Lambda: keep it well under its timeout.
"""
