"""Tickets: replies set the status; staff closing is audited and happens once; assignments."""

import pytest

from accounts.models import AuditLog
from support.models import Ticket, TicketAssignment
from support.services import ticket_assign, ticket_close_by_staff, ticket_open, ticket_reply


@pytest.fixture
def ticket(customer):
    return ticket_open(user=customer, subject="Help", body="My order?", topic="order")


def test_replies_answer_and_reopen(ticket, customer, admin_user):
    ticket_reply(ticket=ticket, author=admin_user, body="On it")
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.ANSWERED
    ticket_reply(ticket=ticket, author=customer, body="Thanks")
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN
    assert list(ticket.messages.values_list("is_staff", flat=True)) == [False, True, False]


def test_staff_close_is_audited_once(ticket, admin_user):
    assert ticket_close_by_staff(ticket_id=ticket.pk, actor_id=admin_user.pk)
    assert not ticket_close_by_staff(ticket_id=ticket.pk, actor_id=admin_user.pk)
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.CLOSED
    row = AuditLog.objects.get()
    assert (row.action, row.actor, row.object_type) == ("ticket.close", admin_user, "support.ticket")
    assert row.before == {"status": "open"} and row.after == {"status": "closed"}


def test_assign_and_unassign(ticket, admin_user):
    ticket_assign(ticket_id=ticket.pk, assignee_id=admin_user.pk)
    ticket_assign(ticket_id=ticket.pk, assignee_id=admin_user.pk)
    assert TicketAssignment.objects.get().assignee == admin_user
    ticket_assign(ticket_id=ticket.pk, assignee_id=None)
    assert TicketAssignment.objects.get().assignee is None
