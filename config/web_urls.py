"""Routes of the analyst web UI: sign-in, workspace picker, chat, documents and usage."""

from django.urls import path
from django.views.generic import RedirectView

from accounts import views as accounts_views
from agents import views as agents_views
from billing import views as billing_views
from retrieval import views as retrieval_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat-home"), name="home"),
    path("login/", accounts_views.SignInView.as_view(), name="sign-in"),
    path("logout/", accounts_views.SignOutView.as_view(), name="sign-out"),
    path("workspace/", accounts_views.workspace_pick, name="workspace-pick"),
    path("chat/", agents_views.chat_home, name="chat-home"),
    path("chat/new", agents_views.conversation_new, name="conversation-new"),
    path("chat/<int:conversation_id>/", agents_views.conversation_page, name="conversation"),
    path("chat/questions/<uuid:query_id>", agents_views.question_link, name="question-link"),
    path("documents/", retrieval_views.document_library, name="documents"),
    path("documents/upload", retrieval_views.document_upload, name="document-upload"),
    path("documents/<int:document_id>/", retrieval_views.document_detail, name="document-detail"),
    path("documents/<int:document_id>/row", retrieval_views.document_row, name="document-row"),
    path(
        "documents/<int:document_id>/original/",
        retrieval_views.document_original_page,
        name="document-original",
    ),
    path(
        "documents/<int:document_id>/delete",
        retrieval_views.document_delete,
        name="document-delete",
    ),
    path("usage/", billing_views.usage_page, name="usage"),
]
