"""Running code on separate PostgreSQL connections at the same moment, for the race tests."""

import threading

from django.db import connection


def run_together(count: int, target) -> list:
    """Call target(index) in `count` threads released together by a barrier, each on its own
    database connection (closed after); returns the results in completion order and fails the
    test if any call raised."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(target(index))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results
