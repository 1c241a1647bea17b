"""DocsFunction: the OpenAPI document generated at build time, and Swagger UI over that same document."""

import json

from runs_core.api.document import openapi_document


def test_the_served_document_is_the_committed_one(api):
    response = api.get("/v1/openapi.json", key=None)
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == json.loads(openapi_document())


def test_swagger_ui_shows_the_served_document(api):
    page = api.get("/v1/docs", key=None)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text and "idempotency_conflict" in page.text
    shown = api.get("/v1/docs", key=None, query={"format": "json"}).json()
    assert [server["url"] for server in shown.pop("servers")] == ["/api"]  # the local stack's stage path
    assert shown == {key: value for key, value in json.loads(openapi_document()).items() if key != "servers"}
