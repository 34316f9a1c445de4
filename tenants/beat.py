"""Beat for every panel: one schedule, each due task sent once per active panel.

The schedule lives in the parent's (`public`) django-celery-beat tables, where staff edit it;
the copies in children's schemas are unused. Every periodic task works on one panel's data
(polls, sweeps, reconciling, syncs, digests, rates), so each is sent with the header of every
active panel (tenant-schemas-celery reads it in the worker). A suspended child's tasks stop with
it and resume when it does.
"""

import logging

from django_tenants.utils import schema_context

from panel.health import HeartbeatScheduler

from .services import active_schemas

log = logging.getLogger(__name__)


class PanelsScheduler(HeartbeatScheduler):
    def apply_entry(self, entry, producer=None):
        try:
            schemas = active_schemas()
        except Exception:
            log.exception("beat could not list the panels; %s sent to the parent only", entry.name)
            schemas = ["public"]
        for schema in schemas:
            with schema_context(schema):
                try:
                    self.apply_async(entry, producer=producer, advance=False)
                except Exception:
                    log.exception("beat could not send %s for panel %s", entry.name, schema)
