"""Run files for the models: Converse document/image blocks and Chat Completions content parts."""

import base64

import boto3
from botocore.stub import Stubber

from runs_core.providers.base import Attachment, Message, ModelRequest
from runs_core.providers.bedrock import BedrockProvider, attachment_blocks, document_name
from runs_core.providers.openai import chat_messages

MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"


def files(*specs: tuple[str, str]) -> tuple[Attachment, ...]:
    return tuple(Attachment(name, content_type, name.encode()) for name, content_type in specs)


def test_documents_and_images_map_to_converse_formats():
    blocks = attachment_blocks(
        files(
            ("invoice.pdf", "application/pdf"),
            ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("notes.md", "text/markdown"),
            ("page.htm", "application/octet-stream"),
            ("log.txt", "text/x-log"),
            ("photo.jpg", "image/jpeg"),
            ("pic.webp", "image/webp"),
            ("archive.zip", "application/zip"),
        )
    )
    formats = [block.get("document", block.get("image"))["format"] for block in blocks]
    assert formats == ["pdf", "xlsx", "md", "html", "txt", "jpeg", "webp"]
    assert blocks[0] == {
        "document": {"format": "pdf", "name": "invoice", "source": {"bytes": b"invoice.pdf"}}
    }
    assert "name" not in blocks[-1]["image"]


def test_document_names_are_sanitized_and_unique():
    taken: set[str] = set()
    assert document_name("Q3_report  (final).v2.pdf", taken) == "Q3 report (final) v2"
    assert document_name("Q3 report (final) v2.pdf", taken) == "Q3 report (final) v2 (2)"
    assert document_name("***.pdf", taken) == "document"
    assert document_name("rechnung-märz[1].csv", taken) == "rechnung-m rz[1]"


def test_converse_per_request_limits():
    blocks = attachment_blocks(files(*[(f"d{i}.pdf", "application/pdf") for i in range(7)]))
    assert len(blocks) == 5


def test_bedrock_sends_files_before_the_text_and_the_service_model_accepts_them():
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    attachments = files(("invoice.pdf", "application/pdf"), ("scan.png", "image/png"))
    request = ModelRequest(
        model={"provider": "bedrock", "id": MODEL_ID},
        instructions="",
        messages=(Message("user", '{"invoice_id": "INV-1"}', attachments=attachments),),
        tools=(),
        turn=0,
    )
    expected = {
        "modelId": MODEL_ID,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"document": {"format": "pdf", "name": "invoice", "source": {"bytes": b"invoice.pdf"}}},
                    {"image": {"format": "png", "source": {"bytes": b"scan.png"}}},
                    {"text": '{"invoice_id": "INV-1"}'},
                ],
            }
        ],
        "inferenceConfig": {"maxTokens": 2048},
    }
    answer = {
        "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
        "metrics": {"latencyMs": 1},
    }
    with Stubber(client) as stubber:  # the Stubber validates the request against the service model
        stubber.add_response("converse", answer, expected)
        assert BedrockProvider(client=client).complete(request).text == "ok"
        stubber.assert_no_pending_responses()


def test_openai_gets_images_as_data_urls_and_text_inline():
    attachments = (
        Attachment("scan.png", "image/png", b"\x89PNG"),
        Attachment("notes.txt", "text/plain", b"pay it"),
        Attachment("invoice.pdf", "application/pdf", b"%PDF"),
    )
    request = ModelRequest(
        model={"provider": "openai", "id": "gpt"},
        instructions="",
        messages=(Message("user", "{}", attachments=attachments),),
        tools=(),
        turn=0,
    )
    (message,) = chat_messages(request)
    assert message["content"] == [
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()},
        },
        {"type": "text", "text": "File notes.txt (text/plain):\npay it"},
        {"type": "text", "text": "{}"},
    ]
