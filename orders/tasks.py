"""Celery tasks: thin wrappers that load IDs and call a service. Each is safe to run twice."""

from celery import shared_task

from . import cancels, completion, forwarding, maintenance, polling, refills


@shared_task(name="orders.forward_order")
def forward_order(order_id: int) -> str:
    return forwarding.order_forward(order_id=order_id)


@shared_task(name="orders.poll_orders")
def poll_orders() -> int:
    result = polling.poll_pass(enqueue=lambda provider_id, ids: poll_order_batch.delay(provider_id, ids))
    return result.batches


@shared_task(name="orders.poll_order_batch")
def poll_order_batch(provider_id: int, order_ids: list[int]) -> int:
    return polling.poll_batch(provider_id=provider_id, order_ids=order_ids)


@shared_task(name="orders.forward_refills")
def forward_refills(refill_ids: list[int]) -> int:
    return refills.refills_forward(refill_ids=refill_ids)


@shared_task(name="orders.forward_cancels")
def forward_cancels(cancel_ids: list[int]) -> int:
    return cancels.cancels_forward(cancel_ids=cancel_ids)


@shared_task(name="orders.poll_refills")
def poll_refills() -> int:
    return refills.refill_claim_batches(enqueue=lambda provider_id, ids: poll_refill_batch.delay(provider_id, ids))


@shared_task(name="orders.poll_refill_batch")
def poll_refill_batch(provider_id: int, refill_ids: list[int]) -> int:
    return refills.refills_poll(provider_id=provider_id, refill_ids=refill_ids)


@shared_task(name="orders.sweep")
def sweep() -> dict:
    return maintenance.sweep(
        enqueue_forward=forward_order.delay,
        enqueue_refills=forward_refills.delay,
        enqueue_cancels=forward_cancels.delay,
    )


@shared_task(name="orders.reconcile")
def reconcile() -> bool:
    return maintenance.reconcile().ok


@shared_task(name="orders.refresh_avg_times")
def refresh_avg_times() -> int:
    return completion.avg_times_refresh()
