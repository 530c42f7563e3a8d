"""REST endpoints of agents: conversations, a turn as JSON or server-sent events, and export."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import TenantApiView
from accounts.fields import StrictCharField
from agents import selectors, services, turns
from agents.models import Conversation
from agents.verification import VERDICTS
from retrieval.models import FISCAL_PERIODS, Document


class ConversationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    scope = serializers.DictField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    content = serializers.CharField()
    citations = serializers.ListField()
    provider = serializers.CharField()
    model = serializers.CharField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=14, decimal_places=8)
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class CitationOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    chunk_id = serializers.IntegerField(allow_null=True)
    document_id = serializers.IntegerField(allow_null=True)
    document = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]
    page = serializers.IntegerField(allow_null=True)
    text = serializers.CharField()


class FigureOutputSerializer(serializers.Serializer):
    text = serializers.CharField(help_text='As written in the answer, e.g. "$274.5 billion".')
    kind = serializers.ChoiceField(choices=["amount", "percent", "per_share"])
    value = serializers.CharField(help_text="The figure in units (dollars, percent points).")
    verdict = serializers.ChoiceField(choices=list(VERDICTS))
    source = serializers.CharField(  # type: ignore[assignment]
        help_text='The passage that states it ("[2]") or the calculation that gave it.'
    )
    start = serializers.IntegerField(help_text="Offset of the figure in the answer text.")
    end = serializers.IntegerField()
    occurrence = serializers.IntegerField(
        help_text="How many times the same text was a figure earlier in the answer."
    )


class VerificationOutputSerializer(serializers.Serializer):
    figures = FigureOutputSerializer(many=True)
    summary = serializers.DictField(
        child=serializers.IntegerField(), help_text="How many figures got each verdict."
    )


class TurnOutputSerializer(serializers.Serializer):
    answer = serializers.CharField()
    citations = CitationOutputSerializer(many=True)
    tools = serializers.ListField(
        child=serializers.DictField(),
        help_text="Calculator calls the model made: name, arguments, output, error.",
    )
    standalone_question = serializers.CharField(
        help_text="The question as answered: a follow-up rewritten with the conversation."
    )
    provider = serializers.CharField()
    model = serializers.CharField()
    tokens = serializers.DictField(child=serializers.IntegerField())
    cost_usd = serializers.CharField()
    estimated_cost_usd = serializers.CharField()
    failovers = serializers.ListField(child=serializers.DictField())
    budget_warning = serializers.DictField(
        allow_null=True, help_text="Set when the tenant has used 90% or more of its budget."
    )
    offline = serializers.BooleanField()
    verification = VerificationOutputSerializer(
        help_text="Every figure of the answer checked against the cited passages and the "
        "calculator: supported, calculated or unsupported."
    )
    scope = serializers.DictField()
    conversation = serializers.IntegerField()
    message_id = serializers.IntegerField()
    query_id = serializers.CharField()
    status = serializers.CharField()
    error = serializers.DictField(allow_null=True)


class ConversationListApi(TenantApiView):
    class ConversationScopeSerializer(serializers.Serializer):
        tickers = serializers.ListField(child=serializers.CharField(), required=False)
        company_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
        doc_types = serializers.ListField(
            child=serializers.ChoiceField(choices=Document.DocType.choices), required=False
        )
        fiscal_years = serializers.ListField(child=serializers.IntegerField(), required=False)
        fiscal_periods = serializers.ListField(
            child=serializers.ChoiceField(choices=list(FISCAL_PERIODS)), required=False
        )

    class ConversationCreateSerializer(serializers.Serializer):
        title = StrictCharField(max_length=200, required=False, default="", allow_blank=True)
        scope = serializers.DictField(required=False, default=dict)

    @extend_schema(responses=ConversationOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        conversations = selectors.conversation_list(tenant=self.tenant, user=self.membership.user)
        return Response(ConversationOutputSerializer(conversations[:200], many=True).data)

    @extend_schema(
        request=ConversationCreateSerializer, responses={201: ConversationOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.ConversationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scope = self.ConversationScopeSerializer(data=data.validated_data["scope"])
        scope.is_valid(raise_exception=True)
        conversation = services.conversation_create(
            tenant=self.tenant,
            user=self.membership.user,
            title=data.validated_data["title"],
            scope={k: v for k, v in scope.validated_data.items() if v},
        )
        return Response(
            ConversationOutputSerializer(conversation).data, status=status.HTTP_201_CREATED
        )


class ConversationDetailApi(TenantApiView):
    @extend_schema(responses=ConversationOutputSerializer)
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_get(
            tenant=self.tenant, user=self.membership.user, conversation_id=conversation_id
        )
        body = dict(ConversationOutputSerializer(conversation).data)
        messages = selectors.message_list(tenant=self.tenant, conversation=conversation)
        body["messages"] = MessageOutputSerializer(messages, many=True).data
        return Response(body)


class _EventStreamNegotiation(DefaultContentNegotiation):
    """Lets `Accept: text/event-stream` through; the view streams SSE itself."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        if "text/event-stream" in request.META.get("HTTP_ACCEPT", ""):
            return (renderers[0], renderers[0].media_type)
        return super().select_renderer(request, renderers, format_suffix)


async def _sse(prepared: turns.PreparedTurn) -> AsyncIterator[bytes]:
    async for frame in turns.turn_stream(prepared):
        payload = json.dumps(frame.as_frame(), default=str)
        yield f"event: {frame.type}\ndata: {payload}\n\n".encode()


class ConversationMessageApi(TenantApiView):
    """Ask a question in a conversation: one JSON object, or SSE frames with
    `Accept: text/event-stream` (start, token, citation, tool, usage, end, error)."""

    content_negotiation_class = _EventStreamNegotiation

    class QuestionSerializer(serializers.Serializer):
        question = StrictCharField(max_length=settings.QUESTION_MAX_CHARS, trim_whitespace=True)

    @extend_schema(
        request=QuestionSerializer,
        responses={
            (200, "application/json"): TurnOutputSerializer,
            (200, "text/event-stream"): OpenApiTypes.STR,
        },
    )
    def post(self, request: Request, conversation_id: int) -> HttpResponseBase:
        data = self.QuestionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kwargs = {
            "tenant": self.tenant,
            "user": self.membership.user,
            "membership": self.membership,
            "conversation_id": conversation_id,
            "question": data.validated_data["question"],
        }
        if "text/event-stream" in request.META.get("HTTP_ACCEPT", ""):
            prepared = async_to_sync(turns.turn_prepare)(**kwargs)
            response = StreamingHttpResponse(_sse(prepared), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        result = async_to_sync(turns.answer_turn_collect)(**kwargs)
        return Response(result)


class QuestionApi(TenantApiView):
    """Ask without a conversation: the first question starts one (titled after it, scoped as
    given) and is answered in the same call, as JSON or as SSE frames like
    /conversations/{id}/messages. Follow-ups go to that conversation's messages."""

    content_negotiation_class = _EventStreamNegotiation

    class FirstQuestionSerializer(serializers.Serializer):
        question = StrictCharField(max_length=settings.QUESTION_MAX_CHARS, trim_whitespace=True)
        scope = ConversationListApi.ConversationScopeSerializer(required=False)

    @extend_schema(
        request=FirstQuestionSerializer,
        responses={
            (201, "application/json"): TurnOutputSerializer,
            (200, "text/event-stream"): OpenApiTypes.STR,
        },
    )
    def post(self, request: Request) -> HttpResponseBase:
        data = self.FirstQuestionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prepared = async_to_sync(turns.question_prepare)(
            tenant=self.tenant,
            user=self.membership.user,
            membership=self.membership,
            question=data.validated_data["question"],
            scope={k: v for k, v in data.validated_data.get("scope", {}).items() if v},
        )
        if "text/event-stream" in request.META.get("HTTP_ACCEPT", ""):
            response = StreamingHttpResponse(_sse(prepared), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        result = async_to_sync(turns.turn_collect)(prepared)
        return Response(result, status=status.HTTP_201_CREATED)


class ConversationExportApi(TenantApiView):
    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "markdown"])],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/markdown"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request, conversation_id: int) -> HttpResponse:
        conversation: Conversation = selectors.conversation_get(
            tenant=self.tenant, user=self.membership.user, conversation_id=conversation_id
        )
        fmt = request.query_params.get("format", "json")
        body = services.conversation_export(conversation=conversation, fmt=fmt)
        content_type = "application/json" if fmt == "json" else "text/markdown; charset=utf-8"
        response = HttpResponse(body, content_type=content_type)
        extension = "json" if fmt == "json" else "md"
        response["Content-Disposition"] = (
            f'attachment; filename="conversation-{conversation.pk}.{extension}"'
        )
        return response
