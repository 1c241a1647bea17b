"""The event log's live delivery: the DynamoDB stream of the events table → WebSocket subscribers, the
EventBridge bus and follow-ups (event_router), and the WebSocket API itself (websocket)."""
