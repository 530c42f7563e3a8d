"""REST endpoints of accounts: who am I, and API key management."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api_base import TenantApiView
from accounts.errors import NotFound, PermissionDenied
from accounts.fields import StrictCharField
from accounts.models import ApiKey, Membership


class MeApi(TenantApiView):
    class MeOutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        tenant = serializers.CharField()
        tenant_name = serializers.CharField()
        role = serializers.CharField()
        tier = serializers.CharField()
        quota = serializers.DictField()

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request: Request) -> Response:
        quota = selectors.tenant_quota_get(tenant=self.tenant)
        data = {
            "email": self.membership.user.email,
            "tenant": self.tenant.slug,
            "tenant_name": self.tenant.name,
            "role": self.membership.role,
            "tier": quota.tier,
            "quota": {
                "monthly_budget_usd": str(quota.monthly_budget_usd),
                "monthly_token_allowance": quota.monthly_token_allowance,
                "requests_per_minute_user": quota.requests_per_minute_user,
                "requests_per_minute_tenant": quota.requests_per_minute_tenant,
                "concurrent_streams_user": quota.concurrent_streams_user,
                "max_documents": quota.max_documents,
                "max_upload_bytes": quota.max_upload_bytes,
            },
        }
        return Response(self.MeOutputSerializer(data).data)


class ApiKeyOutputSerializer(serializers.Serializer):
    prefix = serializers.CharField()
    name = serializers.CharField()
    user = serializers.EmailField(source="user.email")
    created = serializers.DateTimeField()
    expiry_date = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked = serializers.BooleanField()


def _visible_keys(view: TenantApiView) -> Any:
    # Owners and admins manage every key of the tenant; others see their own.
    user = None if view.membership.is_manager else view.membership.user
    return selectors.api_key_list(tenant=view.tenant, user=user)


class ApiKeyListApi(TenantApiView):
    write_roles = (Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.ANALYST)

    class ApiKeyCreateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=50, default="default")
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
        key = serializers.CharField(help_text="The raw key. Shown once; store it now.")

    @extend_schema(responses=ApiKeyOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ApiKeyOutputSerializer(_visible_keys(self), many=True).data)

    @extend_schema(request=ApiKeyCreateInputSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiKey):
            # A key that could mint keys would outlive its own revocation through its children.
            raise PermissionDenied(
                "API keys are issued from a signed-in session, not with another API key.",
                details={"reason": "key_cannot_issue_keys"},
            )
        data = self.ApiKeyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.api_key_issue(
            tenant=self.tenant,
            user=self.membership.user,
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
        )
        body = dict(ApiKeyOutputSerializer(issued.api_key).data)
        body["key"] = issued.raw_key
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(TenantApiView):
    @extend_schema(request=None, responses=ApiKeyOutputSerializer)
    def post(self, request: Request, prefix: str) -> Response:
        api_key = _visible_keys(self).filter(prefix=prefix).first()
        if api_key is None:
            raise NotFound("API key not found.")
        services.api_key_revoke(tenant=self.tenant, api_key=api_key)
        return Response(ApiKeyOutputSerializer(api_key).data)
