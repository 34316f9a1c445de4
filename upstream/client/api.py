"""ApiV2Client: the protocol's actions, each one call through the transport."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import requests

from .errors import NotSent, Rejected, UpstreamError
from .parsing import (
    BadShape,
    ProviderError,
    error_of,
    interpret,
    keyed_items,
    parse_order_status,
    parse_refill_status,
    parse_service,
    readable,
    refusal,
)
from .results import Balance, CancelResult, OrderStatus, RefillResult, RefillStatus, Service
from .transport import Transport, default_session, form_value
from .values import chunks, one_id, to_decimal, to_id, to_text

logger = logging.getLogger("upstream.client")

# What `on_call` hears about each call: ok, or the failure's class.
OUTCOMES = ("ok", "rejected", "not_sent", "unknown")

CallHook = Callable[[str, str, float], None]


# How a provider says it honours idempotency keys, on every answer (ours do: see api/apis.py).
IDEMPOTENCY_HEADER = "Idempotency-Keys"
IDEMPOTENCY_HONOURED = "honoured"


class ApiV2Client:
    """One provider's API v2 endpoint. Thread-safe; share one instance per provider.

    `on_call(action, outcome, seconds)` is called once per request sent (a multi-ID call of
    more than 100 IDs sends one per chunk), outcome being one of OUTCOMES; it is how callers
    count and time calls (metrics). An exception in it is logged and never reaches the caller:
    an `add` that succeeded must not look failed because a counter could not be updated.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_size: int = 10,
        session: requests.Session | None = None,
        user_agent: str = "smm-panel/1.0",
        url_guard: Callable[[str], None] | None = None,
        on_call: CallHook | None = None,
    ) -> None:
        self.url = url
        self._key = key
        parts = urlsplit(url)
        # Host and port only: a URL may carry user:password@ and a query.
        self.host = parts.hostname or "?"
        if parts.port:
            self.host = f"{self.host}:{parts.port}"
        if session is None:
            session = default_session(url, pool_size)
        self._session = session
        self._transport = Transport(
            url,
            session=session,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent=user_agent,
            url_guard=url_guard,
        )
        self._on_call = on_call

    def __repr__(self) -> str:
        return f"<ApiV2Client {self.host}>"

    def __enter__(self) -> ApiV2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session and its pooled connections, also a session passed in."""
        self._session.close()

    # --- actions ---

    def services(self) -> list[Service]:
        def parse(payload: Any) -> list[Service]:
            if isinstance(payload, dict):
                # A few providers key the list by service ID.
                if not all(isinstance(value, dict) for value in payload.values()):
                    raise BadShape("expected a list of services")
                payload = [{"service": key, **value} for key, value in payload.items()]
            if not isinstance(payload, list):
                raise BadShape("expected a list of services")
            parsed = (parse_service(item) for item in payload)
            return [service for service in parsed if service is not None]

        return self._call("services", {}, parse)

    def add(self, *, service: str | int, idempotency_key: str | None = None, **params: Any) -> str:
        """Place an order and return the provider's order ID.

        `params` are the type's fields (link, quantity, runs, interval, comments, ...); None
        values are left out. `idempotency_key` goes both as a form field and as an
        Idempotency-Key header, for providers that honour either.
        """
        reserved = {"key", "action"} & params.keys()
        if reserved:
            raise TypeError(f"add() got a reserved parameter: {sorted(reserved)[0]}")
        form = {"service": service, **params}
        headers = None
        if idempotency_key is not None:
            form["idempotency_key"] = idempotency_key
            headers = {"Idempotency-Key": idempotency_key}

        def parse(payload: Any) -> str:
            if not isinstance(payload, dict):
                raise BadShape("expected an object with the order ID")
            order_id = to_id(payload.get("order"))
            if order_id is None:
                raise BadShape("no order ID in the answer")
            return order_id

        return self._call("add", form, parse, headers=headers, error_with_result="order")

    def status(self, order_id: str | int) -> OrderStatus:
        wanted = one_id(order_id)

        def parse(payload: Any) -> OrderStatus:
            if not isinstance(payload, dict):
                raise BadShape("expected an object")
            nested = payload.get(wanted)
            if "status" not in payload and isinstance(nested, dict):
                # Answered in the multi-ID shape.
                payload = nested
            return parse_order_status(wanted, payload)

        return self._call("status", {"order": wanted}, parse)

    def statuses(self, order_ids: Iterable[str | int]) -> dict[str, OrderStatus]:
        def parse_chunk(chunk: list[str]) -> Callable[[Any], dict[str, OrderStatus]]:
            def parse(payload: Any) -> dict[str, OrderStatus]:
                if len(chunk) == 1 and isinstance(payload, dict) and "status" in payload:
                    return {chunk[0]: parse_order_status(chunk[0], payload)}
                wanted = set(chunk)
                answer = {}
                # The usual answer is keyed by exactly the IDs we sent; skip the slow path then.
                pairs = payload.items() if isinstance(payload, dict) else keyed_items(payload, ("order", "id"))
                for key, item in pairs:
                    item_id = key if key in wanted else to_id(key)
                    if item_id not in wanted:
                        continue
                    if isinstance(item, dict):
                        answer[item_id] = parse_order_status(item_id, item)
                    elif isinstance(item, str) and item:
                        answer[item_id] = parse_order_status(item_id, {"error": item})
                return answer

            return parse

        def call(chunk: list[str]) -> dict[str, OrderStatus]:
            return self._call("status", {"orders": ",".join(chunk)}, parse_chunk(chunk))

        return self._multi(order_ids, call, {})

    def refill(self, order_id: str | int) -> str:
        def parse(payload: Any) -> str:
            if not isinstance(payload, dict):
                raise BadShape("expected an object with the refill ID")
            value = payload.get("refill")
            refused = refusal(value) if isinstance(value, dict) else None
            if refused is not None:
                raise ProviderError(refused)
            refill_id = to_id(value)
            if refill_id is None:
                raise BadShape("no refill ID in the answer")
            return refill_id

        return self._call("refill", {"order": one_id(order_id)}, parse)

    def refills(self, order_ids: Iterable[str | int]) -> list[RefillResult]:
        def call(chunk: list[str]) -> list[RefillResult]:
            parse = self._results_parser(chunk, "refill", RefillResult)
            return self._call("refill", {"orders": ",".join(chunk)}, parse)

        return self._multi(order_ids, call, [])

    def refill_status(self, refill_id: str | int) -> RefillStatus:
        wanted = one_id(refill_id)

        def parse(payload: Any) -> RefillStatus:
            if not isinstance(payload, dict):
                raise BadShape("expected an object")
            return parse_refill_status(wanted, payload)

        return self._call("refill_status", {"refill": wanted}, parse)

    def refill_statuses(self, refill_ids: Iterable[str | int]) -> dict[str, RefillStatus]:
        def parse_chunk(chunk: list[str]) -> Callable[[Any], dict[str, RefillStatus]]:
            def parse(payload: Any) -> dict[str, RefillStatus]:
                wanted = set(chunk)
                answer = {}
                for item_id, item in keyed_items(payload, ("refill", "id")):
                    if item_id not in wanted:
                        continue
                    if not isinstance(item, dict):
                        # {"7": "Completed"}: an object keyed by refill ID with bare words.
                        item = {"status": item}
                    answer[item_id] = parse_refill_status(item_id, item)
                return answer

            return parse

        def call(chunk: list[str]) -> dict[str, RefillStatus]:
            return self._call("refill_status", {"refills": ",".join(chunk)}, parse_chunk(chunk))

        return self._multi(refill_ids, call, {})

    def cancel(self, order_ids: Iterable[str | int]) -> list[CancelResult]:
        def call(chunk: list[str]) -> list[CancelResult]:
            parse = self._results_parser(chunk, "cancel", CancelResult)
            return self._call("cancel", {"orders": ",".join(chunk)}, parse)

        return self._multi(order_ids, call, [])

    def balance(self) -> Balance:
        def parse(payload: Any) -> Balance:
            if not isinstance(payload, dict):
                raise BadShape("expected an object")
            amount = to_decimal(payload.get("balance"))
            if amount is None:
                raise BadShape("no balance in the answer")
            return Balance(balance=amount, currency=to_text(payload.get("currency")) or "")

        balance, headers = self._call("balance", {}, parse, with_headers=True)
        advertised = headers.get(IDEMPOTENCY_HEADER, "").strip().lower() == IDEMPOTENCY_HONOURED
        return replace(balance, honours_idempotency_keys=advertised)

    # --- plumbing ---

    @staticmethod
    def _multi(ids: Iterable[Any], call_chunk: Callable[[list[str]], Any], result: Any) -> Any:
        """Calls `call_chunk` for chunks of at most 100 IDs and merges the answers into
        `result`; a failure after the first chunk carries what was already done."""
        for index, chunk in enumerate(list(chunks(ids))):
            try:
                answer = call_chunk(chunk)
            except UpstreamError as exc:
                if index:
                    exc.partial = result
                raise
            if isinstance(result, dict):
                result.update(answer)
            else:
                result.extend(answer)
        return result

    @staticmethod
    def _results_parser(chunk: list[str], field_name: str, result_type: type) -> Callable:
        """Parser for the list answers of multi refill and cancel:
        [{"order": 1, "<field>": 7}, {"order": 3, "<field>": {"error": "..."}}]."""

        def parse(payload: Any) -> list:
            if len(chunk) == 1 and isinstance(payload, dict) and field_name in payload:
                payload = [{"order": chunk[0], **payload}]
            wanted = set(chunk)
            answer = []
            for order_id, item in keyed_items(payload, ("order", "id")):
                if order_id not in wanted:
                    continue
                if not isinstance(item, dict):
                    item = {field_name: item}
                value = item.get(field_name)
                error = error_of(item)
                if isinstance(value, dict):
                    error = error_of(value) or readable(value)
                    value = None
                new_id = to_id(value)
                if new_id is None and error is None:
                    error = readable(value) if value not in (None, "", False) else "no ID"
                answer.append(result_type(order_id, new_id if error is None else None, error))
            return answer

        return parse

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[key]") if self._key else text

    def _call(
        self,
        action: str,
        params: dict[str, Any],
        parse: Callable[[Any], Any],
        *,
        headers: dict[str, str] | None = None,
        error_with_result: str | None = None,
        with_headers: bool = False,
    ) -> Any:
        form = {"key": self._key, "action": action}
        form.update((name, form_value(value)) for name, value in params.items() if value is not None)
        size = params.get("orders") or params.get("refills")
        label = f"{action}[{size.count(',') + 1}]" if isinstance(size, str) else action

        started = time.monotonic()
        failure: UpstreamError | None = None
        result: Any = None
        try:
            response, body = self._transport.post(action, form, headers)
            result = interpret(action, response, body, parse, error_with_result, self._redact)
            if with_headers:
                result = (result, response.headers)
        except UpstreamError as exc:
            failure = exc
        seconds = time.monotonic() - started
        elapsed_ms = seconds * 1000

        if failure is None:
            logger.info("upstream %s host=%s %.0fms ok", label, self.host, elapsed_ms)
            self._report(action, "ok", seconds)
            return result
        if isinstance(failure, Rejected):
            level, outcome, detail = logging.INFO, "rejected", failure.message
        else:
            level, detail = logging.WARNING, failure.detail
            outcome = "not sent" if isinstance(failure, NotSent) else "unknown"
        logger.log(
            level, "upstream %s host=%s %.0fms %s: %s", label, self.host, elapsed_ms, outcome, self._redact(detail)
        )
        self._report(action, outcome.replace(" ", "_"), seconds)
        # Raised outside the except block on purpose: no __context__ chain (see Transport.post).
        raise failure

    def _report(self, action: str, outcome: str, seconds: float) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(action, outcome, seconds)
        except Exception:
            logger.exception("upstream %s: the on_call hook failed", action)
