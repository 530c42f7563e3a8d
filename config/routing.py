"""Websocket routes, collected from the apps that serve them."""

from agents.routing import websocket_urlpatterns as agents_routes

websocket_urlpatterns = [*agents_routes]
