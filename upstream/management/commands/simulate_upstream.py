from django.core.management.base import BaseCommand

import simulator


class Command(BaseCommand):
    help = "Run an in-memory API v2 provider (the upstream simulator) until Ctrl-C or SIGTERM."

    def add_arguments(self, parser):
        simulator.add_arguments(parser)

    def handle(self, *args, **options):
        simulator.serve(options, stdout=self.stdout)
