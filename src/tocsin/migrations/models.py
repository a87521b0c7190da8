"""Every module that declares tables, imported so Alembic (and the test fixtures) see the whole schema:
the core's own, then each desk's as its ``Desk`` object lists them."""

from importlib import import_module

from tocsin import desks

CORE_MODELS = (
    "tocsin.core.audit",
    "tocsin.core.auth.partners",
    "tocsin.core.auth.staff",
    "tocsin.core.auth.throttle",
    "tocsin.core.notify.models",
    "tocsin.core.orgs",
    "tocsin.core.files.store",
    "tocsin.core.live.events",
    "tocsin.core.leases",
    "tocsin.core.outbox",
    "tocsin.core.scheduler",
)


def import_all_models() -> None:
    for name in (*CORE_MODELS, *[m for desk in desks.load(None) for m in desk.models]):
        import_module(name)
