"""REST routes of agents."""

from django.urls import path

from agents import apis, feedback_apis

urlpatterns = [
    path("conversations", apis.ConversationListApi.as_view(), name="conversation-list"),
    path("questions", apis.QuestionApi.as_view(), name="questions"),
    path(
        "conversations/<int:conversation_id>",
        apis.ConversationDetailApi.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<int:conversation_id>/messages",
        apis.ConversationMessageApi.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<int:conversation_id>/export",
        apis.ConversationExportApi.as_view(),
        name="conversation-export",
    ),
    path(
        "messages/<int:message_id>/feedback",
        feedback_apis.MessageFeedbackApi.as_view(),
        name="message-feedback",
    ),
    path("feedback/report", feedback_apis.FeedbackReportApi.as_view(), name="feedback-report"),
]
