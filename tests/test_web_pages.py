"""The web UI without a browser: sign-in, workspaces, chat, documents, usage, page loads."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.api_base import SESSION_TENANT_KEY
from accounts.models import Tenant, User
from agents.models import Conversation, Message
from agents.views import AnswerPart, answer_parts, guidance_for
from billing.contracts import UsageLine
from billing.models import BudgetPeriod
from billing.services import ledger_line_record, query_summary_record
from retrieval.models import Document
from retrieval.services import DocumentMetadata, document_ingest, document_register

PASSWORD = "correct horse battery staple"
FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\f"
    "Net sales were $32,765 million in fiscal 2018.\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)


def signed_in(member, *, tenant: Tenant | None = None) -> Client:
    client = Client()
    member.user.refresh_from_db()  # the same person added to a second workspace was re-saved
    client.force_login(member.user)
    if tenant is not None:
        session = client.session
        session[SESSION_TENANT_KEY] = tenant.pk
        session.save()
    return client


def register(tenant, name: str = "glue.txt", status: str | None = None, **metadata) -> Document:
    document, _ = document_register(
        tenant=tenant,
        user=None,
        data=(FILING + name).encode(),
        filename=name,
        metadata=DocumentMetadata(**metadata),
        queue=False,
    )
    if status:
        Document.objects.filter(pk=document.pk).update(status=status)
        document.refresh_from_db()
    return document


def answered(member, *, content: str, citations=(), status="complete", **fields) -> Message:
    conversation = fields.pop("conversation", None) or Conversation.objects.create(
        tenant=member.tenant, user=member.user, title="Glueworks"
    )
    Message.objects.create(
        tenant=member.tenant, conversation=conversation, role="user", content="Capex in 2018?"
    )
    return Message.objects.create(
        tenant=member.tenant,
        conversation=conversation,
        role="assistant",
        content=content,
        citations=list(citations),
        status=status,
        **fields,
    )


# --- pure helpers ---------------------------------------------------------------------------


def test_error_guidance_fills_in_the_wait_and_falls_back_to_the_servers_sentence():
    assert "Wait 12 seconds" in guidance_for("rate_limited", details={"retry_after": 12})
    budget = guidance_for("budget_exhausted", "The budget of $5.00 is used up.")
    assert budget.startswith("The budget of $5.00 is used up.")
    assert "raise the budget" in budget
    assert guidance_for("something_new", "Odd failure.").startswith("Odd failure. Try again")


def test_only_markers_with_a_citation_become_links():
    parts = answer_parts("Capex was $1,577 million [1], not [7].", [{"number": 1}])
    assert parts == [
        AnswerPart("Capex was $1,577 million "),
        AnswerPart("[1]", 1),
        AnswerPart(", not [7]."),
    ]


def test_front_end_libraries_are_served_from_node_modules_not_the_repository():
    for path in (
        "vendor/htmx/htmx.min.js",
        "vendor/chartjs/chart.umd.min.js",
        "vendor/marked/marked.umd.js",
        "vendor/dompurify/purify.min.js",
        "vendor/pdfjs/pdf.min.mjs",
        "vendor/pdfjs/pdf.worker.min.mjs",
        "vendor/pdfjs-fonts/LiberationSans-Regular.ttf",
    ):
        found = finders.find(path)
        assert found, f"{path}: run npm ci"
        assert "node_modules" in str(found)


# --- sign-in and workspaces -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/chat/", "/documents/", "/usage/", "/workspace/"])
def test_pages_send_anonymous_visitors_to_sign_in(db, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_signing_in_to_a_single_workspace_chooses_it_for_pages_and_the_api(analyst):
    client = Client()
    response = client.post(
        "/login/", {"username": analyst.user.email, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/chat/"
    assert client.session[SESSION_TENANT_KEY] == analyst.tenant.pk
    assert client.get("/api/v1/me").json()["tenant"] == "acme"


def test_a_wrong_password_is_refused_with_a_message(analyst):
    response = Client().post("/login/", {"username": analyst.user.email, "password": "nope"})
    assert response.status_code == 200
    assert "correct email" in response.content.decode()


def test_a_member_of_two_workspaces_picks_one_and_never_a_strangers(make_member):
    acme = make_member("acme", "analyst", email="ann@example.com")
    globex = make_member("globex", "owner", email="ann@example.com")
    stranger = make_member("initech", "owner")
    client = signed_in(acme)

    assert client.get("/chat/")["Location"] == "/workspace/?next=/chat/"
    picker = client.get("/workspace/").content.decode()
    assert "Acme" in picker
    assert "Globex" in picker
    assert "Initech" not in picker

    refused = client.post("/workspace/", {"tenant": stranger.tenant.pk}, follow=True)
    assert "Choose one of your workspaces." in refused.content.decode()
    assert SESSION_TENANT_KEY not in client.session

    chosen = client.post("/workspace/", {"tenant": globex.tenant.pk, "next": "/documents/"})
    assert chosen["Location"] == "/documents/"
    assert client.get("/api/v1/me").json()["tenant"] == "globex"


def test_the_picker_only_follows_local_next_addresses(make_member):
    member = make_member("acme", "analyst", email="ann@example.com")
    make_member("globex", "analyst", email="ann@example.com")
    client = signed_in(member)
    response = client.post(
        "/workspace/", {"tenant": member.tenant.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/chat/"


def test_a_suspended_workspace_says_so(analyst):
    Tenant.objects.filter(pk=analyst.tenant.pk).update(status=Tenant.Status.SUSPENDED)
    response = signed_in(analyst).get("/chat/")
    assert response.status_code == 403
    assert "is suspended" in response.content.decode()


def test_the_admin_link_shows_only_to_staff_whom_the_admin_lets_in(make_member):
    owner = make_member("acme", "owner")
    analyst = make_member("acme", "analyst")
    owners_client = signed_in(owner)
    assert 'href="/admin/"' not in owners_client.get("/chat/").content.decode()
    assert owners_client.get("/admin/").status_code == 302  # the admin's own sign-in refusal
    assert 'href="/admin/"' not in signed_in(analyst).get("/chat/").content.decode()

    analyst.user.is_staff = True
    analyst.user.save()
    staff_client = signed_in(analyst)
    assert 'href="/admin/"' in staff_client.get("/chat/").content.decode()
    assert staff_client.get("/admin/").status_code == 200


def test_a_staff_user_without_a_workspace_is_sent_to_create_one_only_if_allowed_to(db):
    user = User.objects.create_user("ops@example.com", PASSWORD, is_staff=True)
    client = Client()
    client.force_login(user)
    add_url = "/admin/accounts/tenant/add/"
    assert add_url not in client.get("/workspace/").content.decode()

    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="add_tenant")
    )
    assert add_url in client.get("/workspace/").content.decode()
    assert client.get(add_url).status_code == 200


def test_the_budget_link_into_admin_shows_only_to_staff_who_may_change_the_workspace(
    make_member,
):
    owner = make_member("acme", "owner")
    change_url = f"/admin/accounts/tenant/{owner.tenant.pk}/change/"
    assert change_url not in signed_in(owner).get("/usage/").content.decode()

    owner.user.is_staff = True
    owner.user.save()
    client = signed_in(owner)
    assert change_url not in client.get("/usage/").content.decode()
    assert client.get(change_url).status_code == 403

    owner.user.user_permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename="change_tenant")
    )
    client = signed_in(owner)
    assert change_url in client.get("/usage/").content.decode()
    assert client.get(change_url).status_code == 200


# --- chat -------------------------------------------------------------------------------------


def test_the_conversation_list_shows_only_my_conversations_in_this_workspace(
    analyst, make_member, other_tenant_analyst
):
    colleague = make_member("acme", "analyst")
    Conversation.objects.create(tenant=analyst.tenant, user=analyst.user, title="Mine")
    Conversation.objects.create(tenant=analyst.tenant, user=colleague.user, title="Colleague's")
    Conversation.objects.create(
        tenant=other_tenant_analyst.tenant, user=other_tenant_analyst.user, title="Globex's"
    )
    html = signed_in(analyst).get("/chat/").content.decode()
    assert "Mine" in html
    assert "Colleague&#x27;s" not in html
    assert "Globex" not in html


def test_a_new_conversation_keeps_the_scope_chosen_in_the_form(analyst):
    document = register(
        analyst.tenant,
        status="ready",
        company="Glueworks Corp",
        ticker="GLUE",
        doc_type="10-K",
        fiscal_year=2018,
    )
    client = signed_in(analyst)
    form = client.get("/chat/").content.decode()
    assert "Glueworks Corp (GLUE)" in form
    assert 'value="2018"' in form
    response = client.post(
        "/chat/new",
        {
            "title": "Glue capex",
            "company_ids": [document.company_id],
            "doc_types": ["10-K"],
            "fiscal_years": ["2018"],
        },
    )
    conversation = Conversation.objects.get()
    assert response["Location"] == f"/chat/{conversation.pk}/"
    assert conversation.title == "Glue capex"
    assert conversation.scope == {
        "company_ids": [document.company_id],
        "doc_types": ["10-K"],
        "fiscal_years": [2018],
    }
    page = client.get(response["Location"]).content.decode()
    assert "Glueworks Corp" in page
    assert "FY 2018" in page


def test_the_chat_page_opens_with_the_question_box_and_the_scope_as_an_option(analyst):
    register(analyst.tenant, status="ready", company="Glueworks Corp", ticker="GLUE")
    html = signed_in(analyst).get("/chat/").content.decode()
    assert '<label for="question" class="composer-label">Ask a question</label>' in html
    assert '<textarea id="question" name="question"' in html
    assert "Start conversation" not in html
    assert "Limit to companies, document types or years (optional)" in html
    assert "Glueworks Corp (GLUE)" in html


def test_the_first_question_starts_a_conversation_named_after_it_and_is_sent_once(analyst):
    client = signed_in(analyst)
    question = "What were Glueworks' net sales in fiscal 2018?"

    response = client.post("/chat/new", {"question": question, "doc_types": ["10-K"]})

    conversation = Conversation.objects.get()
    assert response["Location"] == f"/chat/{conversation.pk}/"
    assert conversation.title == question
    assert conversation.scope == {"doc_types": ["10-K"]}
    page = client.get(response["Location"]).content.decode()
    assert 'data-pending-question="What were Glueworks&#x27; net sales in fiscal 2018?"' in page
    # A reload does not ask it again.
    assert "data-pending-question" not in client.get(response["Location"]).content.decode()


def test_a_conversation_left_unscoped_is_scoped_from_each_question(analyst):
    client = signed_in(analyst)
    client.post("/chat/new", {})
    conversation = Conversation.objects.get()
    assert conversation.scope == {}
    assert (
        "automatic, from each question" in client.get(f"/chat/{conversation.pk}/").content.decode()
    )


def test_another_workspaces_conversation_is_not_found(analyst, other_tenant_analyst):
    theirs = Conversation.objects.create(
        tenant=other_tenant_analyst.tenant, user=other_tenant_analyst.user
    )
    assert signed_in(analyst).get(f"/chat/{theirs.pk}/").status_code == 404


def test_a_saved_answer_links_its_markers_to_sources_and_shows_provider_tokens_and_cost(analyst):
    citation = {
        "number": 1,
        "document": "Glueworks 2018 10-K",
        "source": "glue.txt",
        "page": 2,
        "text": "Capital expenditures were $1,577 million in fiscal 2018.",
        "document_id": 5,
        "chunk_id": 9,
    }
    answer = answered(
        analyst,
        content="Capex was $1,577 million [1]; see also [4].",
        citations=[citation],
        provider="offline",
        model="offline-extractive-1",
        input_tokens=310,
        output_tokens=24,
        cost_usd=Decimal("0.00012"),
    )
    html = signed_in(analyst).get(f"/chat/{answer.conversation_id}/").content.decode()
    assert f'<a class="cite" href="#src-{answer.pk}-1" data-cite="1"' in html
    assert "see also [4]." in html
    assert f'id="src-{answer.pk}-1"' in html
    assert "Glueworks 2018 10-K, p. 2" in html
    assert f'id="cites-{answer.pk}"' in html
    assert ">Offline</span>" in html
    assert "offline-extractive-1" in html
    assert "310 in / 24 out tokens" in html
    assert "$0.0001" in html
    assert f'data-feedback-for="{answer.pk}"' in html


def test_stopped_and_failed_answers_say_so_in_plain_words(analyst):
    stopped = answered(analyst, content="Capex was", status="interrupted")
    failed = answered(
        analyst,
        content="",
        status="error",
        error_code="provider_failed_midstream",
        conversation=stopped.conversation,
    )
    html = signed_in(analyst).get(f"/chat/{stopped.conversation_id}/").content.decode()
    assert "Stopped before the end; the partial answer is kept." in html
    assert "stopped partway, so the answer is incomplete. Ask again" in html
    assert f'data-feedback-for="{failed.pk}"' not in html


def test_the_error_sentences_reach_the_chat_script(analyst):
    conversation = Conversation.objects.create(tenant=analyst.tenant, user=analyst.user)
    html = signed_in(analyst).get(f"/chat/{conversation.pk}/").content.decode()
    assert '<script id="error-guidance" type="application/json">' in html
    assert "an owner or admin can raise the budget" in html
    assert f'data-ws-path="/ws/conversations/{conversation.pk}/"' in html


def test_viewers_read_but_cannot_ask_or_upload(make_member):
    viewer = make_member("acme", "viewer")
    conversation = Conversation.objects.create(tenant=viewer.tenant, user=viewer.user)
    client = signed_in(viewer)
    page = client.get(f"/chat/{conversation.pk}/").content.decode()
    assert 'id="composer"' not in page
    assert "can read answers but not ask" in page
    client.post("/chat/new", {})
    assert Conversation.objects.count() == 1
    library = client.get("/documents/").content.decode()
    assert "Upload documents" not in library
    upload = SimpleUploadedFile("a.txt", b"Revenue was up.", content_type="text/plain")
    client.post("/documents/upload", {"files": [upload], "doc_type": "other"})
    assert not Document.objects.exists()


def test_the_question_behind_a_query_id_is_shown_only_to_who_may_read_it(analyst, make_member):
    answer = answered(analyst, content="Capex was $1,577 million.")
    query_id = uuid.uuid4()
    Message.objects.filter(conversation=answer.conversation, role="user").update(query_id=query_id)
    url = f"/chat/questions/{query_id}"
    assert "Capex in 2018?" in signed_in(analyst).get(url).content.decode()
    assert signed_in(make_member("acme", "analyst")).get(url).content == b""
    assert "Capex in 2018?" in signed_in(make_member("acme", "admin")).get(url).content.decode()


# --- documents --------------------------------------------------------------------------------


def test_the_library_filters_by_company_type_year_and_status(analyst):
    glue = register(analyst.tenant, "glue.txt", company="Glueworks Corp", fiscal_year=2018)
    register(analyst.tenant, "nvda.txt", company="NVIDIA", doc_type="10-Q", fiscal_year=2024)
    register(analyst.tenant, "bad.txt", status="failed", company="Initech", fiscal_year=2020)
    client = signed_in(analyst)

    def titles(query: str) -> list[str]:
        html = client.get(f"/documents/?{query}").content.decode()
        return re.findall(r'<span class="sub">(\w+\.txt)', html)

    assert sorted(titles("")) == ["bad.txt", "glue.txt", "nvda.txt"]
    assert titles(f"company={glue.company_id}") == ["glue.txt"]
    assert titles("doc_type=10-Q") == ["nvda.txt"]
    assert titles("fiscal_year=2020") == ["bad.txt"]
    assert titles("status=failed") == ["bad.txt"]


def test_an_htmx_filter_change_gets_only_the_table(analyst):
    register(analyst.tenant)
    response = signed_in(analyst).get(
        "/documents/?status=queued", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="document-table"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="document-table"')
    assert "<html" not in html
    assert "glue.txt" in html


def test_uploading_several_files_registers_each_with_the_metadata_and_reports_rejects(
    analyst,
):
    client = signed_in(analyst)
    files = [
        SimpleUploadedFile("a-2021.txt", b"Widgets revenue was $5 million.", "text/plain"),
        SimpleUploadedFile("b-2021.txt", b"Widgets margin was 12%.", "text/plain"),
        SimpleUploadedFile("empty.txt", b"", "text/plain"),
    ]
    response = client.post(
        "/documents/upload",
        {
            "files": files,
            "company": "Widgets Inc",
            "ticker": "wdgt",
            "doc_type": "10-K",
            "fiscal_year": "2021",
            "fiscal_period": "FY",
        },
        follow=True,
    )
    html = response.content.decode()
    assert "Uploaded 2 documents" in html
    assert "empty.txt was not accepted: The file is empty." in html
    documents = Document.objects.order_by("source")
    assert [d.source for d in documents] == ["a-2021.txt", "b-2021.txt"]
    assert {(d.ticker, d.doc_type, d.fiscal_year, d.company.name) for d in documents} == {
        ("WDGT", "10-K", 2021, "Widgets Inc")
    }


def test_an_upload_without_files_or_with_a_bad_year_returns_the_form_with_reasons(analyst):
    client = signed_in(analyst)
    response = client.post("/documents/upload", {"doc_type": "10-K", "fiscal_year": "1700"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose at least one file to upload." in html
    assert "greater than or equal to 1900" in html
    assert not Document.objects.exists()


def test_rows_in_flight_poll_until_they_settle_and_failures_give_their_reason(analyst):
    document = register(analyst.tenant)
    client = signed_in(analyst)
    row = client.get(f"/documents/{document.pk}/row").content.decode()
    assert 'hx-trigger="every 1s"' in row
    assert "<progress" in row
    Document.objects.filter(pk=document.pk).update(
        status="failed", error_message="The PDF is damaged and cannot be read."
    )
    row = client.get(f"/documents/{document.pk}/row").content.decode()
    assert "hx-trigger" not in row
    assert "The PDF is damaged and cannot be read." in row
    Document.objects.filter(pk=document.pk).update(status="ready", chunk_count=3)
    row = client.get(f"/documents/{document.pk}/row").content.decode()
    assert "hx-trigger" not in row
    assert "3 passages" in row


def test_another_workspaces_document_is_not_found_on_any_page(analyst, other_tenant_analyst):
    theirs = register(other_tenant_analyst.tenant)
    client = signed_in(analyst)
    for path in (f"/documents/{theirs.pk}/", f"/documents/{theirs.pk}/row"):
        assert client.get(path).status_code == 404
    assert client.post(f"/documents/{theirs.pk}/delete").status_code == 404
    assert Document.objects.filter(pk=theirs.pk).exists()


def test_deleting_a_document_removes_it_from_the_library(analyst):
    document = register(analyst.tenant)
    client = signed_in(analyst)
    response = client.post(f"/documents/{document.pk}/delete", follow=True)
    assert "Deleted glue.txt." in response.content.decode()
    assert not Document.objects.exists()


def test_the_document_page_shows_the_cited_passage_on_its_page(analyst):
    document = register(analyst.tenant, title="Glueworks 2018 10-K")
    document_ingest(document_id=document.pk)
    chunk = document.chunks.get(page_start=2)
    html = (
        signed_in(analyst)
        .get(f"/documents/{document.pk}/?page=2&chunk={chunk.pk}")
        .content.decode()
    )
    assert "Page 2" in html
    assert f'id="chunk-{chunk.pk}" class="passage passage-cited"' in html
    assert "Capital expenditures were $1,577 million" in html
    assert "Previous page" in html


# --- usage ------------------------------------------------------------------------------------


def spend(member, *, input_tokens: int = 100_000, output_tokens: int = 2_000) -> uuid.UUID:
    query_id = uuid.uuid4()
    line = UsageLine(
        kind="model",
        provider="anthropic",
        model="claude-sonnet-5-5",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    ledger_line_record(
        tenant=member.tenant, user=member.user, conversation_id=None, query_id=query_id, line=line
    )
    query_summary_record(
        tenant=member.tenant,
        user=member.user,
        conversation_id=None,
        query_id=query_id,
        status="ok",
        latency_ms=900,
        providers_tried=["anthropic"],
        provider="anthropic",
        model="claude-sonnet-5-5",
    )
    return query_id


def set_spent(tenant, amount: str) -> None:
    today = date.today()  # noqa: DTZ011 - the billing period is a UTC calendar month
    BudgetPeriod.objects.update_or_create(
        tenant=tenant,
        user=None,
        period_start=today.replace(day=1),
        defaults={"spent_usd": Decimal(amount), "limit_usd": Decimal(100)},
    )


@pytest.mark.parametrize(
    ("spent", "state", "words"),
    [
        ("10", "normal", "Within budget"),
        ("92", "warning", "Warning: 92% used"),
        ("100", "blocked", "Blocked: questions are refused"),
    ],
)
def test_the_budget_meter_is_normal_then_warns_at_90_percent_then_blocks(
    make_member, spent, state, words
):
    owner = make_member("acme", "owner")
    Tenant.objects.filter(pk=owner.tenant.pk).update(monthly_budget_usd_override=Decimal(100))
    set_spent(owner.tenant, spent)
    html = signed_in(owner).get("/usage/").content.decode()
    assert f'class="panel span-4 budget-{state}"' in html
    assert words in html
    assert f'aria-valuenow="{min(int(spent), 100)}"' in html


def test_owners_see_every_member_and_analysts_only_themselves(make_member):
    owner = make_member("acme", "owner")
    ann = make_member("acme", "analyst", email="ann@acme.example")
    bob = make_member("acme", "analyst", email="bob@acme.example")
    spend(ann)
    spend(bob, input_tokens=200_000)

    managers_view = signed_in(owner).get("/usage/").content.decode()
    assert "ann@acme.example" in managers_view
    assert "bob@acme.example" in managers_view
    assert "Costs per member this month" in managers_view
    assert "Costs by provider" in managers_view

    anns_view = signed_in(ann).get("/usage/").content.decode()
    assert "ann@acme.example" in anns_view
    assert "bob@acme.example" not in anns_view
    assert "Your costs this month" in anns_view
    assert "Your costs by provider" in anns_view
    assert "Change the budget or limits in Admin" not in anns_view


def test_the_usage_page_lists_the_rate_limits_and_chart_figures(make_member):
    owner = make_member("acme", "owner")
    Tenant.objects.filter(pk=owner.tenant.pk).update(requests_per_minute_user_override=7)
    spend(owner)
    html = signed_in(owner).get("/usage/?days=7").content.decode()
    assert "Questions per minute, each member</dt><dd>7</dd>" in html
    assert '<script id="usage-data" type="application/json">' in html
    assert re.search(r'"labels": \["[0-9-]+"(, "[0-9-]+"){6}\]', html)
    assert "Last 7 days" in html
    assert "<dt>Cost</dt><dd>$0.3300</dd>" in html  # 100,000 in and 2,000 out on Sonnet
    assert "<dt>Questions</dt><dd>1</dd>" in html
    assert "<dt>Tokens</dt><dd>102,000</dd>" in html
    assert 'aria-current="page">7 days' in html


# --- what pages may load -----------------------------------------------------------------------


def test_no_page_loads_anything_from_another_host(analyst):
    document = register(analyst.tenant, source_url="https://www.sec.gov/filing")
    conversation = Conversation.objects.create(tenant=analyst.tenant, user=analyst.user)
    client = signed_in(analyst)
    pages = ["/chat/", f"/chat/{conversation.pk}/", "/documents/", f"/documents/{document.pk}/"]
    pages += ["/usage/", "/workspace/", f"/documents/{document.pk}/original/"]
    loads = re.compile(r'<(?:script|img|iframe|link)[^>]+(?:src|href)="([^"]+)"', re.IGNORECASE)
    for path in pages:
        html = client.get(path).content.decode()
        for url in loads.findall(html):
            assert url.startswith(("/", "data:")), f"{path} loads {url}"
    Client().logout()
    for url in loads.findall(Client().get("/login/").content.decode()):
        assert url.startswith(("/", "data:")), url


def test_web_uploads_count_against_the_rate_limit_like_the_rest_upload(analyst):
    Tenant.objects.filter(pk=analyst.tenant.pk).update(
        requests_per_minute_user_override=2, requests_per_minute_tenant_override=2
    )
    client = signed_in(analyst)
    statuses = []
    for n in range(3):
        upload = SimpleUploadedFile(f"{n}.txt", f"Revenue was up {n}.".encode())
        response = client.post("/documents/upload", {"files": [upload], "doc_type": "other"})
        statuses.append(response.status_code)
    assert statuses[:2] != [429, 429]
    assert statuses[2] == 429
    assert int(response["Retry-After"]) > 0
    assert "Nothing was uploaded" in response.content.decode()
    assert Document.objects.filter(tenant=analyst.tenant).count() == 2
    # The REST upload shares the same minute: it is refused too.
    rest = analyst.client().post(
        "/api/v1/documents", {"files": [SimpleUploadedFile("r.txt", b"Revenue was up.")]}
    )
    assert rest.status_code == 429
