"""REST routes of agents."""

from django.urls import path

from agents import apis

urlpatterns = [
    path("conversations", apis.ConversationListApi.as_view(), name="conversation-list"),
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
]
