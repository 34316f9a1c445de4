"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEY.

Rotating a key:

1. make a new key and put it first: FIELD_ENCRYPTION_KEY=<new>,<old>; restart everything
   (new writes now use <new>; old values still decrypt with <old>);
2. run `python manage.py rotate_encryption_key`;
3. drop <old>: FIELD_ENCRYPTION_KEY=<new>; restart.

Works on the stored ciphertext directly (MultiFernet.rotate), one row at a time under a row
lock, so it is safe while the panel runs and safe to run again. A value that no configured key
decrypts is reported and left alone, and the command exits non-zero: it never writes a value it
could not read.
"""

from cryptography.fernet import InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from encrypted_model_fields.fields import EncryptedMixin, parse_key


def encrypted_fields() -> list[tuple[type, object]]:
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedMixin)
    ]


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first FIELD_ENCRYPTION_KEY (see the module docstring)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check that every value decrypts; write nothing.")

    def handle(self, *args, dry_run: bool, **options):
        keys = settings.FIELD_ENCRYPTION_KEY
        crypter = MultiFernet([parse_key(key) for key in (keys if isinstance(keys, list | tuple) else [keys])])
        quote = connection.ops.quote_name
        rotated = unreadable = 0
        for model, field in encrypted_fields():
            table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk} FROM {table} WHERE {column} IS NOT NULL AND {column} <> ''")  # noqa: S608
                ids = [row[0] for row in cursor.fetchall()]
            for row_id in ids:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"SELECT {column} FROM {table} WHERE {pk} = %s FOR UPDATE", [row_id])  # noqa: S608
                    row = cursor.fetchone()
                    if row is None or not row[0]:
                        continue
                    try:
                        token = crypter.rotate(row[0].encode())
                    except InvalidToken:
                        unreadable += 1
                        where = f"{model._meta.label}.{field.name} id={row_id}"
                        self.stderr.write(f"{where}: no configured key decrypts it")
                        continue
                    if not dry_run:
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                            [token.decode(), row_id],
                        )
                    rotated += 1
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"{verb} {rotated} value(s) in {len(encrypted_fields())} field(s); {unreadable} unreadable")
        if unreadable:
            raise CommandError(f"{unreadable} value(s) could not be decrypted with any configured key")
