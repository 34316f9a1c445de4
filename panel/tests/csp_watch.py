"""For browser tests: collect what the browser refused under the Content-Security-Policy.

Chromium reports each blocked script, handler, style or connection on the console ("Refused to
execute inline script because it violates the following Content Security Policy directive ...")
and fires a `securitypolicyviolation` event; uncaught errors (a script that stopped half way)
come as page errors. A test attaches the watcher to a page, browses, and asserts it saw nothing.
"""

from dataclasses import dataclass, field

# Run by Playwright in every document before the page's own scripts (outside the page's CSP):
# keep the page's violation events where the test can read them.
_RECORD_EVENTS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


@dataclass
class CspWatch:
    page: object
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        try:
            events = self.page.evaluate("window.__cspViolations || []")
        except Exception:  # the page is navigating: its console lines are still collected
            events = []
        return [*self.console, *events, *self.errors]

    def assert_clean(self, where: str = "") -> None:
        found = self.violations()
        assert not found, f"{where}: {found}"


def watch_csp(page) -> CspWatch:
    watch = CspWatch(page)

    def on_console(message):
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text or "htmx:evalDisallowedError" in text:
            watch.console.append(f"{message.type}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))
    page.add_init_script(_RECORD_EVENTS)
    return watch


def csp_header(response) -> str:
    return response.headers.get("content-security-policy", "")


def wait_until(page, expression: str, timeout_ms: int = 10_000):
    """Like page.wait_for_function(expression), which polls by eval-ing the string inside the
    page and so is itself refused by a policy without 'unsafe-eval': poll from the test instead
    (page.evaluate goes through the debugging protocol, outside the page's policy)."""
    waited = 0
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if waited >= timeout_ms:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(100)
        waited += 100
