"""check_ledger and reconcile on the SQLite demo database: exact sums, no false drift.

SQLite stores decimals with float affinity, so SUM(0.1, 0.1, 0.1) is 0.30000000000000004 there;
the checks must add money as Decimals. Run in a subprocess against a fresh SQLite file, as
`make run` uses it.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from decimal import Decimal
from accounts.ledger import ledger_credit, ledger_debit
from accounts.models import User
from orders.maintenance import reconcile
for name in ("a", "b"):
    user = User.objects.create(username=name)
    for _ in range(30):
        ledger_credit(user_id=user.pk, amount=Decimal("0.1"), memo="deposit")
        ledger_credit(user_id=user.pk, amount=Decimal("0.2"), memo="deposit")
    for _ in range(7):
        ledger_debit(user_id=user.pk, amount=Decimal("0.07"), memo="charge")
user.refresh_from_db()
assert user.balance == Decimal("8.51"), user.balance
report = reconcile()
assert report.data["drift"] == [], report.data["drift"]
print("reconcile ok")
"""


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_ledger_and_reconcile_add_money_exactly_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "PANEL_VAR_DIR": str(tmp_path),
    }
    env.pop("REDIS_URL", None)
    migrated = run(["migrate", "--noinput"], env)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    shell = run(["shell", "-c", SCRIPT], env)
    assert shell.returncode == 0, shell.stderr[-2000:]
    assert "reconcile ok" in shell.stdout
    checked = run(["check_ledger"], env)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "every balance equals its ledger" in checked.stdout
