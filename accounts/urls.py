"""REST routes of accounts."""

from django.urls import path

from accounts import apis

urlpatterns = [
    path("me", apis.MeApi.as_view(), name="me"),
    path("api-keys", apis.ApiKeyListApi.as_view(), name="api-key-list"),
    path("api-keys/<str:prefix>/revoke", apis.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
