"""URL configuration: admin, REST API v1, OpenAPI schema, health, metrics and the web UI."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from monitoring import health
from monitoring.metrics_views import metrics_view

urlpatterns = [
    path("health", health.health_view, name="health"),
    path("ready", health.ready_view, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("retrieval.urls")),
    path("api/v1/", include("agents.urls")),
    path("api/v1/", include("billing.urls")),
    path("api/v1/", include("monitoring.urls")),
    path("", include("config.web_urls")),
]

handler404 = "accounts.exception_handler.json_or_html_404"
handler500 = "accounts.exception_handler.json_or_html_500"
