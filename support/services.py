"""Support tickets: customers open and reply, staff reply, assign and close (audited)."""

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from panel.events import DomainEvent, emit

from .models import Ticket, TicketAssignment, TicketMessage


@transaction.atomic
def ticket_open(*, user: User, subject: str, body: str, topic: str, order_id: int | None = None) -> Ticket:
    ticket = Ticket.objects.create(user=user, subject=subject, topic=topic, order_id=order_id)
    TicketMessage.objects.create(ticket=ticket, author=user, body=body, is_staff=False)
    emit(
        DomainEvent(
            kind="ticket.new",
            key=f"ticket:{ticket.pk}:new",
            data={"ticket": ticket.pk, "message": f"Ticket {ticket.pk} from {user.username}: {subject}"},
        )
    )
    return ticket


@transaction.atomic
def ticket_reply(*, ticket: Ticket, author: User, body: str) -> TicketMessage:
    """A message on the thread; a staff reply marks the ticket answered, a customer's reopens it."""
    is_staff = author.is_staff and author.pk != ticket.user_id
    message = TicketMessage.objects.create(ticket=ticket, author=author, body=body, is_staff=is_staff)
    ticket.status = Ticket.Status.ANSWERED if is_staff else Ticket.Status.OPEN
    ticket.save(update_fields=["status", "updated_at"])
    if is_staff:
        emit(
            DomainEvent(
                kind="ticket.answered",
                key=f"ticket-message:{message.pk}",
                user_id=ticket.user_id,
                data={"ticket": ticket.pk, "subject": ticket.subject},
            )
        )
    return message


def ticket_close(*, ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.CLOSED, updated_at=timezone.now())


def ticket_close_by_staff(*, ticket_id: int, actor_id: int) -> bool:
    """Close a ticket for staff, with its audit row. False if it was already closed."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        if ticket.status == Ticket.Status.CLOSED:
            return False
        ticket_close(ticket=ticket)
        audit_record(
            actor_id=actor_id,
            action="ticket.close",
            obj=ticket,
            before={"status": ticket.status},
            after={"status": Ticket.Status.CLOSED},
        )
    return True


def ticket_assign(*, ticket_id: int, assignee_id: int | None) -> TicketAssignment:
    """Give the ticket to a staff member (None: to nobody)."""
    assignment, _ = TicketAssignment.objects.update_or_create(
        ticket_id=ticket_id, defaults={"assignee_id": assignee_id}
    )
    return assignment
