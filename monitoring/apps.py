"""App configuration for monitoring."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"

    def ready(self) -> None:
        from monitoring import metrics
        from monitoring.health import db_connection_usage

        metrics.register_db_connection_probe(db_connection_usage)
