"""Celery tasks of childpanels.billing (only load IDs and call a service).

The service is imported inside each task: Celery imports this module in every worker, and
without PostgreSQL (the SQLite demo) the registry of panels it works on is not installed.
"""

from celery import shared_task

__all__ = ["build_panel", "pay_owner_panels", "renew_panels"]


# A failed build (the database busy, a worker killed mid-copy) is tried again with growing
# pauses; after the last try the hourly renewal run enqueues it again. The build never charges.
@shared_task(
    name="childpanels.build_panel",
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=6,
)
def build_panel(panel_id: int) -> str:
    from ..billing import panel_build

    return panel_build(panel_id=panel_id)


@shared_task(name="childpanels.renew_panels")
def renew_panels() -> dict | None:
    """Hourly: warnings, renewals, suspensions for non-payment, restores, stuck builds. Runs in
    the parent only (beat sends it to every panel; a child returns at once)."""
    from ..billing import renewals_run

    run = renewals_run()
    return None if run is None else vars(run)


@shared_task(name="childpanels.pay_owner_panels")
def pay_owner_panels(user_id: int) -> list[str]:
    """After a deposit reached a customer: restore their panels suspended for non-payment."""
    from ..billing import owner_panels_pay

    return owner_panels_pay(user_id=user_id)
