"""Every module that declares tables, imported so Alembic sees the whole schema."""

from importlib import import_module

MODEL_MODULES = (
    "tocsin.core.audit",
    "tocsin.core.auth.partners",
    "tocsin.core.auth.staff",
    "tocsin.core.auth.throttle",
    "tocsin.core.outbox",
    "tocsin.core.scheduler",
    "tocsin.interventions.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        import_module(name)
