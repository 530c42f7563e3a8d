"""ASGI entry point: HTTP through Django (bodies over REQUEST_BODY_MAX_BYTES refused before they
are read), websockets through Channels with session-or-key auth."""

import logging
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

django.setup(set_prefix=False)

from accounts.middleware import ApiAsgiHandler  # noqa: E402
from config.daphne import daphne_raw_bodies  # noqa: E402

daphne_raw_bodies()

# Django's own handler (get_asgi_application), with its pre-middleware errors in house JSON.
django_asgi_app = ApiAsgiHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.ws_auth import TenantAuthMiddlewareStack  # noqa: E402
from config.body_limit import (  # noqa: E402
    RequestBodyLimitMiddleware,
    daphne_body_limit_install,
)
from config.routing import websocket_urlpatterns  # noqa: E402

logging.getLogger("config").info(
    "services: database=%s redis=%s", settings.DATABASE_SOURCE, settings.REDIS_SOURCE
)

daphne_body_limit_install(max_bytes=settings.REQUEST_BODY_MAX_BYTES)

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimitMiddleware(
            django_asgi_app, max_bytes=settings.REQUEST_BODY_MAX_BYTES
        ),
        "websocket": AllowedHostsOriginValidator(
            TenantAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
