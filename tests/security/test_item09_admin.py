"""Item 9: Django admin checks model permissions on its custom views, keeps a document's tenant
fixed, and shows question and answer text with personal data masked."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from agents.models import Conversation, Message
from retrieval.models import Document
from retrieval.services import document_register

pytestmark = pytest.mark.django_db


def staff_client(*permissions: str) -> Client:
    user = User.objects.create_user(
        email=f"staff-{uuid.uuid4().hex[:8]}@operator.example", password="x", is_staff=True
    )
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def test_staff_without_the_permission_cannot_upload_into_a_tenant(analyst):
    upload_url = "/admin/retrieval/document/upload/"
    plain_staff = staff_client()
    assert plain_staff.get(upload_url).status_code == 403

    shared_library_uploader = staff_client("retrieval.add_document")
    response = shared_library_uploader.post(
        upload_url,
        {
            "file": SimpleUploadedFile("planted.txt", b"Planted figures.", "text/plain"),
            "tenant": analyst.tenant.pk,
            "doc_type": "other",
        },
    )
    assert response.status_code == 200  # the form again, with the tenant refused
    assert not Document.objects.filter(tenant=analyst.tenant).exists()

    response = plain_staff.post(
        upload_url,
        {
            "file": SimpleUploadedFile("planted.txt", b"Planted figures.", "text/plain"),
            "tenant": analyst.tenant.pk,
            "doc_type": "other",
        },
    )
    assert response.status_code == 403
    assert not Document.objects.filter(tenant=analyst.tenant).exists()


def test_cost_reports_need_the_ledger_and_user_view_permissions(analyst):
    reports_url = "/admin/billing/ledgerentry/reports/"
    assert staff_client().get(reports_url).status_code == 403
    assert staff_client("billing.view_ledgerentry").get(reports_url).status_code == 403
    allowed = staff_client("billing.view_ledgerentry", "accounts.view_user")
    assert allowed.get(reports_url).status_code == 200


def test_a_documents_tenant_cannot_be_changed_in_admin(admin_client, analyst, make_member):
    other = make_member("globex", "analyst")
    document, _ = document_register(
        tenant=analyst.tenant, user=None, data=b"Acme's notes.", filename="n.txt", queue=False
    )
    admin_client.post(
        f"/admin/retrieval/document/{document.pk}/change/",
        {
            "tenant": other.tenant.pk,
            "title": "Moved",
            "doc_type": "other",
            "source": "n.txt",
            "fiscal_period": "",
        },
    )
    document.refresh_from_db()
    assert document.tenant_id == analyst.tenant.pk


def test_admin_shows_questions_and_answers_with_personal_data_masked(admin_client, analyst):
    conversation = Conversation.objects.create(
        tenant=analyst.tenant, user=analyst.user, title="Email jane.roe@example.com about it"
    )
    question = Message.objects.create(
        tenant=analyst.tenant,
        conversation=conversation,
        role="user",
        content="Should I email jane.roe@example.com or call 212-555-0187 about the 10-K?",
    )

    for url in (
        f"/admin/agents/conversation/{conversation.pk}/change/",
        f"/admin/agents/message/{question.pk}/change/",
        "/admin/agents/conversation/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert "jane.roe@example.com" not in html, url
        assert "212-555-0187" not in html, url
    assert (
        "&lt;EMAIL_1&gt;"
        in admin_client.get(f"/admin/agents/message/{question.pk}/change/").content.decode()
    )
