"""Refusals worded once, in the protocol's English; translated only where a page shows them.

The API v2 answers a refusal's English text verbatim (clients match on it), while the dashboard
shows the same refusal in the customer's language. So a refusal keeps its message as written
(marked with gettext_noop where it is defined, so `make messages` gathers it) and its values
apart: `message` is the English text with the values put in, `translated()` the catalogue's
text in the active language with the same values. A `label` value names a field ("Usernames")
and is translated too; other values (numbers, codes) are put in as they are.

It lives beside the protocol's other text rules (upstream.lines), below every app that refuses
something (orders) and every page that shows a refusal (dashboard).
"""

from django.utils.translation import gettext


def refusal_text(template: str, params: dict | None, *, translate: bool) -> str:
    """`template` with `params` put in: as written, or in the active language."""
    if not translate:
        return template % params if params else template
    if not params:
        return gettext(template)
    values = dict(params)
    if isinstance(values.get("label"), str):
        values["label"] = gettext(values["label"])
    return gettext(template) % values


class Refusal(ValueError):
    """A refusal for the customer: `message` (English, the protocol's) and `translated()`."""

    def __init__(self, message: str, params: dict | None = None):
        self.template = message
        self.params = dict(params or {})
        self.message = refusal_text(message, self.params, translate=False)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def translated(self) -> str:
        return refusal_text(self.template, self.params, translate=True)
