"""Item 13: the OpenAPI schema says what the API does: search answers an object, a failed
turn's body has every required field, uploads are binary files, error answers are documented,
inputs carry their real constraints, and a question must be a string."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from django.conf import settings
from django.test import Client

from agents.models import Message
from agents.services import conversation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema() -> dict[str, Any]:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return dict(response.json())


def json_schema(schema: dict[str, Any], node: Any) -> Any:
    """An OpenAPI 3.0 schema node as plain JSON Schema: references inlined, `nullable` as a
    null type."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return json_schema(schema, schema["components"]["schemas"][name])
        out = {k: json_schema(schema, v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [json_schema(schema, item) for item in node]
    return node


def response_schema(schema: dict[str, Any], path: str, method: str, status: str) -> Any:
    content = schema["paths"][path][method]["responses"][status]["content"]
    return json_schema(schema, content["application/json"]["schema"])


def test_search_is_documented_as_the_object_it_answers(schema, analyst):
    body = analyst.client().post("/api/v1/search", {"query": "net sales"}, format="json").json()
    documented = response_schema(schema, "/api/v1/search", "post", "200")
    assert documented["type"] == "object"
    jsonschema.validate(body, documented)


def test_a_failed_turn_answers_every_field_the_schema_requires(schema, analyst):
    analyst.tenant.pii_policy = "block"
    analyst.tenant.save(update_fields=["pii_policy"])
    conversation = conversation_create(tenant=analyst.tenant, user=analyst.user)
    path = "/api/v1/conversations/{conversation_id}/messages"
    response = analyst.client().post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"question": "Net sales? Write to jane.doe@example.com"},
        format="json",
    )
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "error"
    assert body["error"]["code"] == "pii_blocked"
    jsonschema.validate(body, response_schema(schema, path, "post", "200"))


def test_uploaded_files_are_documented_as_binary(schema):
    body = schema["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]
    files = json_schema(schema, body["multipart/form-data"]["schema"])["properties"]["files"]
    assert files["items"] == {"type": "string", "format": "binary"}


def test_every_operation_documents_its_error_answers_in_the_house_format(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "429", "503"):
                documented = operation["responses"].get(status)
                assert documented, f"{method.upper()} {path} does not document {status}"
                error = json_schema(schema, documented["content"]["application/json"]["schema"])
                assert error["required"] == ["error"]


def test_inputs_carry_their_real_constraints(schema):
    question = schema["components"]["schemas"]["QuestionRequest"]["properties"]["question"]
    assert question["minLength"] == 1
    assert question["maxLength"] == settings.QUESTION_MAX_CHARS
    search = schema["components"]["schemas"]["SearchInputRequest"]["properties"]
    assert search["query"]["maxLength"] == settings.QUESTION_MAX_CHARS
    assert search["k"]["minimum"] == 1
    assert search["k"]["maximum"] == 100
    assert search["company_ids"]["items"]["minimum"] == 1
    assert search["fiscal_years"]["items"]["maximum"] == 2100


@pytest.mark.parametrize("question", [0, 1.5, True, ["a"], {"q": "a"}, None])
def test_a_question_that_is_not_a_string_is_refused(analyst, question):
    conversation = conversation_create(tenant=analyst.tenant, user=analyst.user)
    response = analyst.client().post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        {"question": question},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert not Message.objects.filter(conversation=conversation).exists()
