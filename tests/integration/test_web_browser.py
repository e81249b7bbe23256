"""WCAG 2.2 AA in a real browser: every page type and the letter's HTML, with axe-core
(every rule, none disabled: zero violations), the site's Content-Security-Policy enforced
(nothing blocked), keyboard-only navigation with visible focus, reflow at 400% zoom, and
heading order. Results are written to out/web/ (docs/web.md quotes them); the Mansfield
2019-20 page is photographed at phone and desktop widths.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.support import browser as b
from tests.support.web import WebSite

PAGES = {
    "home": "/",
    "search": "/?q=district",
    "council": "/councils/MAN",
    "abolished council": "/councils/COR",
    "year": "/years/2019-20",
    "year sorted": "/years/2019-20?sort=uphold&order=desc&group=District",
    "open data": "/data",
    "map": "/map",
    "not found": "/councils/ZZZ",
}
LETTER = "/councils/MAN/letters/2019-20/v1.html"


@pytest_asyncio.fixture(scope="module")
async def chromium(web_site: WebSite) -> AsyncIterator[Browser]:
    if (why := b.missing()) is not None:
        pytest.fail(why, pytrace=False)
    await web_site.publish_all()
    async with async_playwright() as p:
        browser = await b.launch(p)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.mark.parametrize("name", [*PAGES, "letter"])
async def test_axe_finds_no_violation(web_site: WebSite, chromium: Browser, name: str) -> None:
    # axe is injected as a script: only this context lets it past the site's CSP.
    context = await chromium.new_context(bypass_csp=True)
    page = await context.new_page()
    path = LETTER if name == "letter" else PAGES[name]
    response = await page.goto(web_site.url + path)
    assert response is not None and response.status == (404 if name == "not found" else 200)
    result = await b.run_axe(page)
    b.save(f"axe-{name.replace(' ', '-')}.json", result.__dict__)
    await context.close()
    assert result.violations == [], "\n".join(result.summary)
    assert result.passes > 10  # axe did run its rules


@pytest.mark.parametrize("name", list(PAGES))
async def test_the_content_security_policy_blocks_nothing_the_page_needs(
    web_site: WebSite, chromium: Browser, name: str
) -> None:
    context = await chromium.new_context()
    page = await context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    await page.goto(web_site.url + PAGES[name])
    await page.wait_for_load_state("networkidle")
    sheet = await page.evaluate("() => getComputedStyle(document.body).lineHeight")
    await context.close()
    assert blocked == [] and failed == []
    assert sheet != "normal"  # the stylesheet applied


@pytest.mark.parametrize("name", ["home", "council", "year", "open data", "map"])
async def test_keyboard_only_reaches_everything_with_visible_focus(
    web_site: WebSite, chromium: Browser, name: str
) -> None:
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(web_site.url + PAGES[name])
    stops = await b.tab_through(page)
    expected = await b.tabbable_count(page)
    # The skip link comes first and takes focus into the main content.
    assert stops[0]["href"] == "#main"
    await page.keyboard.press("Tab")
    await page.evaluate("() => document.activeElement.blur()")
    await page.focus("a.skip-link")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    inside = await page.evaluate("() => !!document.activeElement.closest('main')")
    b.save(
        f"keyboard-{name.replace(' ', '-')}.json",
        {"stops": len(stops), "tabbable": expected, "skip_link_lands_in_main": inside},
    )
    await context.close()
    assert len(stops) == expected, "every link and control is reached by Tab, once"
    invisible = [s for s in stops if not (s["outline"] or s["shadow"]) or not s["visible"]]
    assert invisible == []
    assert inside


@pytest.mark.parametrize("name", ["home", "council", "year", "open data", "map", "not found"])
async def test_the_page_reflows_at_400_percent_zoom(
    web_site: WebSite, chromium: Browser, name: str
) -> None:
    context = await chromium.new_context(viewport={"width": 320, "height": 256})
    page = await context.new_page()
    await page.goto(web_site.url + PAGES[name])
    found = await b.reflow_overflow(page)
    b.save(f"reflow-{name.replace(' ', '-')}.json", found)
    await context.close()
    assert found == {"scroll": 0, "out": []}


@pytest.mark.parametrize("name", [*PAGES, "letter"])
async def test_headings_are_in_order(web_site: WebSite, chromium: Browser, name: str) -> None:
    context = await chromium.new_context()
    page = await context.new_page()
    await page.goto(web_site.url + (LETTER if name == "letter" else PAGES[name]))
    found = await b.headings(page)
    await context.close()
    assert b.heading_problems(found) == [], found


async def test_screenshots_of_the_mansfield_page(web_site: WebSite, chromium: Browser) -> None:
    shots = {}
    for label, width in (("phone", 390), ("desktop", 1280)):
        context = await chromium.new_context(
            viewport={"width": width, "height": 844 if label == "phone" else 900},
            device_scale_factor=1,
        )
        page = await context.new_page()
        await page.goto(web_site.url + "/councils/MAN#y2019-20")
        path = b.RESULTS / f"mansfield-2019-20-{label}.png"
        b.RESULTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(path), full_page=True)
        year = page.locator('section[aria-labelledby="y2019-20"]')
        await year.screenshot(path=str(b.RESULTS / f"mansfield-2019-20-{label}-year.png"))
        shots[label] = path
        await context.close()
    for path in shots.values():
        assert path.stat().st_size > 10_000


async def test_the_council_page_shows_service_areas_and_links_upheld_decisions(
    web_site: WebSite, chromium: Browser
) -> None:
    page = await chromium.new_page()
    await page.goto(web_site.url + "/councils/MAN")
    table = page.locator("#areas-caption-2019-20").locator("xpath=..")
    assert await table.count() == 1
    rows = await table.locator("tbody tr").all_inner_texts()
    assert any(r.startswith("Housing") for r in rows), rows
    total = await table.locator("tfoot tr").inner_text()
    assert total.startswith("All service areas")
    links = page.locator('section[aria-labelledby="y2019-20"] ul.upheld-decisions a')
    assert await links.count() > 0
    for href in await links.evaluate_all("els => els.map(e => e.href)"):
        assert href.startswith("https://www.lgo.org.uk/decisions/"), href
    await page.close()


async def test_the_map_places_every_current_council_and_lists_them(
    web_site: WebSite, chromium: Browser
) -> None:
    shots = []
    for label, width in (("phone", 390), ("desktop", 1280)):
        context = await chromium.new_context(
            viewport={"width": width, "height": 844 if label == "phone" else 900},
            device_scale_factor=1,
        )
        page = await context.new_page()
        await page.goto(web_site.url + "/map")
        dots = await page.locator("svg.england-map a").evaluate_all(
            "els => els.map(e => [e.getAttribute('href'), e.getBoundingClientRect().x,"
            " e.getBoundingClientRect().y])"
        )
        listed = await page.locator("ul.council-list a").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        assert dots and {d[0] for d in dots} <= set(listed)
        where = {d[0].rsplit("/", 1)[1]: (d[1], d[2]) for d in dots}
        if {"CON", "LDS"} <= set(where):  # Cornwall is south-west of Leeds, on screen too
            assert where["CON"][0] < where["LDS"][0] and where["CON"][1] > where["LDS"][1]
        b.RESULTS.mkdir(parents=True, exist_ok=True)
        path = b.RESULTS / f"map-{label}.png"
        await page.screenshot(path=str(path), full_page=True)
        shots.append(path)
        await context.close()
    for path in shots:
        assert path.stat().st_size > 10_000
