"""App configuration for billing: list prices are seeded after migrate (and after a flush),
never on a read path."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _prices_seed(sender: AppConfig, **kwargs: Any) -> None:
    from billing.pricing import prices_ensure_defaults

    prices_ensure_defaults(using=kwargs.get("using", "default"))


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        post_migrate.connect(_prices_seed, sender=self, dispatch_uid="billing.prices_seed")
