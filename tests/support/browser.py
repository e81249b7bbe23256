"""A real headless browser for the web tests: Debian's Chromium driven by Playwright, with
axe-core (npm, infra/web/package.json) injected, and the checks axe cannot make (keyboard,
focus, reflow at 400% zoom, heading order) as scripts.

Browsers cannot be downloaded here, so Playwright is pointed at /usr/bin/chromium
(`apt-get install chromium`, which `make setup` does). A missing browser or axe-core fails
the tests with what to run.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("AR_CHROMIUM", "/usr/bin/chromium"))
AXE = REPO / "infra/web/node_modules/axe-core/axe.min.js"
RESULTS = REPO / "out/web"


def missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: run `make setup` (apt-get install chromium)"
    if not AXE.is_file():
        return f"no axe-core at {AXE}: run `make setup` (npm install in infra/web)"
    return None


async def launch(playwright: Any) -> Browser:
    browser: Browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
    )
    return browser


@dataclass
class AxeResult:
    url: str
    violations: list[dict[str, Any]]
    passes: int
    incomplete: list[str]
    rules_run: int
    version: str
    summary: list[str] = field(default_factory=list)


async def run_axe(page: Page) -> AxeResult:
    """axe-core with its defaults: every rule it ships enabled (WCAG 2.0-2.2 A and AA, and
    its best practices), none disabled."""
    await page.add_script_tag(path=str(AXE))
    raw = await page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return {violations: r.violations, passes: r.passes.length,"
        " incomplete: r.incomplete.map(i => i.id), version: r.testEngine.version,"
        " rules: axe.getRules().length}; }"
    )
    violations = raw["violations"]
    return AxeResult(
        url=page.url,
        violations=violations,
        passes=raw["passes"],
        incomplete=raw["incomplete"],
        rules_run=raw["rules"],
        version=raw["version"],
        summary=[
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
            for v in violations
        ],
    )


async def headings(page: Page) -> list[tuple[int, str]]:
    found: list[list[Any]] = await page.evaluate(
        "() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')]"
        ".map(h => [Number(h.tagName[1]), h.textContent.trim()])"
    )
    return [(int(level), text) for level, text in found]


def heading_problems(found: list[tuple[int, str]]) -> list[str]:
    """One h1, first; no level skipped on the way down (h2 -> h4)."""
    problems = []
    levels = [level for level, _ in found]
    if levels.count(1) != 1 or (levels and levels[0] != 1):
        problems.append(f"expected one h1, first: {levels}")
    for (a, _), (b, text) in itertools.pairwise(found):
        if b > a + 1:
            problems.append(f"h{a} then h{b} ({text!r})")
    return problems


async def tab_through(page: Page, limit: int = 400) -> list[dict[str, Any]]:
    """Press Tab until focus comes back to the first element; each stop with whether its
    focus is visible (an outline or a box shadow that differs from the unfocused style)."""
    stops: list[dict[str, Any]] = []
    await page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        await page.keyboard.press("Tab")
        stop = await page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body) return null;
              const s = getComputedStyle(el);
              const r = el.getBoundingClientRect();
              const text = (el.textContent || el.value || '').trim().slice(0, 60);
              return {tag: el.tagName.toLowerCase(), text, id: el.id,
                      href: el.getAttribute('href'),
                      outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
                      shadow: s.boxShadow !== 'none',
                      visible: r.width > 0 && r.height > 0};
            }"""
        )
        if stop is None:
            continue
        if stops and stop == stops[0]:
            break
        stops.append(stop)
    return stops


async def tabbable_count(page: Page) -> int:
    count: int = await page.evaluate(
        "() => [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select,"
        ' textarea, [tabindex]:not([tabindex="-1"])\')]'
        ".filter(e => !e.disabled && e.getClientRects().length).length"
    )
    return count


async def reflow_overflow(page: Page) -> dict[str, Any]:
    """At 320 CSS pixels wide (1280 at 400% zoom): how far the page itself scrolls
    sideways (0 expected; data tables may scroll inside their own region, which WCAG 1.4.10
    allows) and which elements stick out of the viewport outside such a region."""
    found: dict[str, Any] = await page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const out = [...document.body.querySelectorAll('*')].filter(e => {
            if (e.closest('.table-scroll')) return false;
            const r = e.getBoundingClientRect();
            const outside = r.right > width + 1 || r.left < -1;
            return r.width > 0 && outside && !e.closest('.visually-hidden, .skip-link');
          }).slice(0, 10)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
          return {scroll: document.documentElement.scrollWidth - width, out};
        }"""
    )
    return found


def save(name: str, data: Any) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path
