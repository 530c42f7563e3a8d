"""REST routes of retrieval."""

from django.urls import path

from retrieval import apis

urlpatterns = [
    path("documents", apis.DocumentListApi.as_view(), name="document-list"),
    path("documents/<int:document_id>", apis.DocumentDetailApi.as_view(), name="document-detail"),
    path(
        "documents/<int:document_id>/original",
        apis.DocumentOriginalApi.as_view(),
        name="document-original-file",
    ),
    path("search", apis.SearchApi.as_view(), name="search"),
]
