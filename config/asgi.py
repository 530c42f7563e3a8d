"""ASGI entry point: HTTP through Django, websockets through Channels with session-or-key auth."""

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
from config.routing import websocket_urlpatterns  # noqa: E402

logging.getLogger("config").info(
    "services: database=%s redis=%s", settings.DATABASE_SOURCE, settings.REDIS_SOURCE
)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            TenantAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
