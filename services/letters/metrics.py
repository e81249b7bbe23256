"""The letter service's Prometheus metrics (served on /metrics by services/platform/health.py)
and its count of work done, which readiness reads as progress (readiness.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.domain.letter_lifecycle import LetterState

LETTERS = Gauge(
    "letters_by_state",
    "Letters in the outbox, by state (read from the database at each readiness round)",
    ["state"],
)
SEND_ATTEMPTS = Counter("letters_send_attempts_total", "SMTP conversations started")
SEND_FAILURES = Counter(
    "letters_send_failures_total",
    "SMTP sends that failed, by kind: transient (a 4xx, a broken connection: retried), "
    "permanent (a 5xx) or not-sent (the service would not send it as configured: no TLS, a "
    "certificate not verified, a login refused; or could not build the message)",
    ["kind"],
)
SENT = Counter("letters_sent_total", "Letters the SMTP server accepted")
RENDER_SECONDS = Histogram(
    "letters_render_seconds", "Time to render one letter (text, HTML and PDF)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)  # fmt: skip
CLOSES = Counter("letters_year_closes_total", "Year-end closes turned into outbox rows")


class Work:
    """Anything the service finished (a close handled, a letter rendered, sent, refused or
    settled): readiness's sign that the service moves."""

    done = 0

    @classmethod
    def did(cls, n: int = 1) -> None:
        cls.done += n


def by_state(counts: dict[LetterState, int]) -> None:
    for state, n in counts.items():
        LETTERS.labels(state.value).set(n)


def rendered(seconds: float) -> None:
    RENDER_SECONDS.observe(seconds)
    Work.did()


def send_started() -> None:
    SEND_ATTEMPTS.inc()


def sent() -> None:
    SENT.inc()
    Work.did()


def send_failed(*, permanent: bool, refused: bool, not_sent: bool = False) -> None:
    """A failed send; ``refused``: the letter is now ``failed`` for good (work done);
    ``not_sent``: the service itself refused to send it (CANNOT_SEND)."""
    kind = "not-sent" if not_sent else "permanent" if permanent else "transient"
    SEND_FAILURES.labels(kind).inc()
    if refused:
        Work.did()


def close_handled() -> None:
    CLOSES.inc()
    Work.did()
