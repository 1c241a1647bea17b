"""Runs table and the event log: the DynamoDB side of a Change (runs_core.changes). A run change, its events
and what is written with it (steps, thread messages, the org's debit, the thread's turn) are one
transaction.

Runs are keyed by id. The list indexes (all sorted by run id, i.e. by creation time):
    by_org       org_id
    by_status    org_status   = <org>#<status>
    by_agent     org_agent    = <org>#<agt_id>
    by_thread    org_thread   = <org>#<thr_id>       (sparse)
    by_end_user  org_end_user = <org>#<end user>     (sparse)
Every write is conditional on `rev` (optimistic locking), and `seq` of each new event comes from the
run's `last_event_seq`, so two writers can never both win, nor share a seq.
"""

from typing import Any

from runs_core.changes import Change, NewEvent, StaleRun, StaleThread
from runs_core.storage import dynamo
from runs_core.storage.accounts import OrgStore
from runs_core.storage.dynamo import KeyRange, TransactionCancelled
from runs_core.storage.steps import StepStore
from runs_core.storage.threads import ThreadStore

INDEX_KEYS = {
    "by_org": "org_id",
    "by_status": "org_status",
    "by_agent": "org_agent",
    "by_thread": "org_thread",
    "by_end_user": "org_end_user",
}


def index_keys(run: dict[str, Any]) -> dict[str, Any]:
    org = run["org_id"]
    end_user = (run.get("created_by") or {}).get("end_user_id")
    return {
        "org_status": f"{org}#{run['status']}",
        "org_agent": f"{org}#{run['agent_id']}",
        "org_thread": f"{org}#{run['thread_id']}" if run.get("thread_id") else None,
        "org_end_user": f"{org}#{end_user}" if end_user else None,
    }


class RunStore:
    def __init__(
        self, table: str, events_table: str, steps: StepStore, threads: ThreadStore, orgs: OrgStore
    ) -> None:
        self.table = table
        self.events_table = events_table
        self.steps = steps
        self.threads = threads
        self.orgs = orgs

    def _written_with(self, run: dict[str, Any], change: Change) -> list[dict[str, Any]]:
        """The transaction items of what `change` writes besides the run and its events."""
        items = [self.steps.put_item(step) for step in change.new_steps]
        items += [
            self.steps.update_item(run["id"], update.index, update.fields) for update in change.step_updates
        ]
        items += [self.threads.message_put(message) for message in change.messages]
        if change.debit:
            items.append(self.orgs.debit_item(run["org_id"], change.debit))
        if change.turn is not None:
            items.append(self.threads.turn_update(change.turn))
        return items

    def _event_puts(
        self, run: dict[str, Any], first_seq: int, events: list[NewEvent], now: str, expires_at: int
    ):
        return [
            {
                "Put": {
                    "TableName": self.events_table,
                    "Item": dynamo.serialize(
                        {
                            "run_id": run["id"],
                            "seq": first_seq + offset,
                            "type": event.type,
                            "data": event.data,
                            "created_at": now,
                            "org_id": run["org_id"],
                            "agent_id": run["agent_id"],
                            "thread_id": run.get("thread_id"),  # the router hands threads on (logic.threads)
                            "expires_at": expires_at,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(seq)",
                }
            }
            for offset, event in enumerate(events)
        ]

    def create(self, run: dict[str, Any], change: Change, now: str, expires_at: int) -> dict[str, Any]:
        """Put a new run with its first events (and what else `change` writes: e.g. its claim on a thread) in
        one transaction; StaleThread if the thread it claims changed meanwhile."""
        item = {**run, **index_keys(run), "rev": 1, "last_event_seq": len(change.events)}
        try:
            dynamo.transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": dynamo.serialize(item),
                            "ConditionExpression": "attribute_not_exists(id)",
                        }
                    },
                    *self._event_puts(item, 1, change.events, now, expires_at),
                    *self._written_with(item, change),
                ]
            )
        except TransactionCancelled:
            if change.turn is None:
                raise
            raise StaleThread from None
        return item

    def get(self, run_id: str, consistent: bool = False) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"id": run_id}, consistent)

    def commit(
        self, run: dict[str, Any], change: Change, now: str, expires_at: int, yield_to_cancel: bool = False
    ) -> dict[str, Any]:
        """Apply `change` to the run as read (same `rev`): its fields, its events and what is written with
        it (steps, messages, org credits), in one transaction; StaleRun if the run moved on meanwhile.
        `yield_to_cancel`: also StaleRun once a cancel was requested (request_cancel), so a frequent
        writer cannot outrun it."""
        events = change.events
        updated = {
            **run,
            **change.changes,
            "rev": run["rev"] + 1,
            "last_event_seq": run["last_event_seq"] + len(events),
        }
        updated.update({key: value for key, value in index_keys(updated).items() if value is not None})
        dynamo.serialize(updated)  # the item as it will be: over the item size limit is a 413, unwritten
        fields = {key: updated[key] for key in updated if key != "id" and updated[key] != run.get(key)}
        names = {f"#f{i}": field for i, field in enumerate(fields)}
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        try:
            dynamo.transact(
                [
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": dynamo.serialize({"id": run["id"]}),
                            "UpdateExpression": f"SET {sets}",
                            "ConditionExpression": "#rev = :expected_rev"
                            + (" AND attribute_not_exists(cancel_requested_at)" if yield_to_cancel else ""),
                            "ExpressionAttributeNames": {**names, "#rev": "rev"},
                            "ExpressionAttributeValues": {
                                **dynamo.values(**{f"f{i}": v for i, v in enumerate(fields.values())}),
                                **dynamo.values(expected_rev=run["rev"]),
                            },
                        }
                    },
                    *self._event_puts(run, run["last_event_seq"] + 1, events, now, expires_at),
                    *self._written_with(run, change),
                ]
            )
        except TransactionCancelled as cancelled:
            if "ConditionalCheckFailed" in cancelled.reasons or "TransactionConflict" in cancelled.reasons:
                raise StaleRun from None
            raise
        return updated

    def request_cancel(self, run_id: str, now: str) -> None:
        """Mark that a cancel is waiting to be written (it lost a race). Changes neither `rev` nor the log:
        writers that yield to cancels (the live message's flushes) fail from now on, so the cancel's next
        attempt wins."""
        dynamo.update_if(self.table, {"id": run_id}, {"cancel_requested_at": now}, "attribute_exists(id)")

    def page(
        self,
        index: str,
        partition_value: str,
        key_range: KeyRange,
        limit: int,
        filters: dict[str, list[str]],
    ) -> list[dict[str, Any]]:
        """Runs newest first from one index; `filters` are attribute → allowed values, applied server-side."""
        expression, names, filter_values = None, {}, {}
        if filters:
            clauses = []
            for i, (attribute, allowed) in enumerate(sorted(filters.items())):
                names[f"#a{i}"] = attribute
                placeholders = []
                for j, value in enumerate(allowed):
                    filter_values.update(dynamo.values(**{f"a{i}_{j}": value}))
                    placeholders.append(f":a{i}_{j}")
                clauses.append(f"#a{i} IN ({', '.join(placeholders)})")
            expression = " AND ".join(clauses)
        return dynamo.query_desc(
            self.table,
            index,
            (INDEX_KEYS[index], partition_value),
            key_range,
            limit,
            expression,
            names or None,
            filter_values or None,
        )
