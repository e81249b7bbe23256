"""The end of the demo: the year published on the web site ("Your council's performance"),
served until Ctrl-C for a person at a terminal, or Mansfield's page fetched once and checked
(CI, a pipe)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.cli.common import err, out
from services.cli.demo.stage import REPO, Stage
from services.cli.demo.year import YEAR


@dataclass(frozen=True, slots=True)
class Site:
    url: str
    page: str  # Mansfield's page (the site's home when Mansfield is not registered)
    missing: list[str] | None  # what Mansfield's page lacks; None when served, not checked


async def show_site(stage: Stage, *, serve: bool, port: int, mansfield: str | None) -> Site:
    """Publish the year, start the site; serve it until Ctrl-C, or check Mansfield once."""
    from services.web import demo_site  # imported only when run

    published = await demo_site.publish(stage.ns)
    err.print(f"published on the web: {', '.join(published) or 'nothing due'}", soft_wrap=True)
    proc, url = await demo_site.start_site(
        stage.ns, stage.env, REPO, stage.logs / "web.log", demo_site.free_port(port)
    )
    stage.processes.append(proc)  # stopped with the services
    page = f"{url}/councils/{mansfield}" if mansfield else url
    if serve:
        out.print(f"\n[bold]Your council's performance[/] is at {url}/", soft_wrap=True)
        out.print(f"Mansfield District Council, {YEAR}: {page}#y{YEAR.label}", soft_wrap=True)
        out.print("serving until Ctrl-C ...", soft_wrap=True)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:  # Ctrl-C: end normally, so everything is stopped
            err.print("stopping the site", soft_wrap=True)
        return Site(url, page, None)
    missing = await asyncio.to_thread(demo_site.check_page, page) if mansfield else ["Mansfield"]
    return Site(url, page, missing)
