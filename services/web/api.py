"""The JSON API: the open data's rows per year and per council, described by the OpenAPI
document at ``/api/openapi.json``. A council-year row has exactly the open data's columns."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.financial_year import FinancialYear, NotAFinancialYear
from services.web import opendata
from services.web.catalogue import YearEntry
from services.web.site import Site

router = APIRouter(prefix="/api", tags=["figures"])


class CouncilYearRecord(BaseModel):
    """One council in one published year: the figures of its letter as sent."""

    model_config = ConfigDict(extra="forbid")

    financial_year: str = Field(examples=["2019-20"])
    council_code: str
    council_name: str
    comparison_group: str
    status: str = Field(description="published, or under_review (no figures)")
    letter_version: int | None
    upheld: int | None
    not_upheld: int | None
    detailed_investigations: int | None
    advice_given: int | None
    closed_after_initial_enquiries: int | None
    incomplete_or_invalid: int | None
    referred_back_for_local_resolution: int | None
    satisfactory_remedies: int | None
    compliance_outcomes: int | None
    compliance_implemented: int | None
    uphold_rate_percent: int | None
    compliance_rate_percent: int | None
    satisfactory_remedy_rate_percent: int | None
    upheld_per_100k: str | None = Field(description="As printed: one decimal place")
    population: int | None
    group_uphold_rate_percent: int | None
    group_compliance_rate_percent: int | None
    group_satisfactory_remedy_rate_percent: int | None
    group_upheld_per_100k: str | None
    letter_html_url: str | None
    letter_pdf_url: str | None
    # Where the council is, and the year's decisions by service area (docs/domain.md §16):
    # the open data's columns (services/web/opendata.py), null where the year has none.
    latitude: float | None = None
    longitude: float | None = None
    decisions_adult_care_services: int | None = None
    upheld_adult_care_services: int | None = None
    decisions_benefits_and_tax: int | None = None
    upheld_benefits_and_tax: int | None = None
    decisions_corporate_and_other_services: int | None = None
    upheld_corporate_and_other_services: int | None = None
    decisions_education_and_childrens_services: int | None = None
    upheld_education_and_childrens_services: int | None = None
    decisions_environmental_services_and_public_protection: int | None = None
    upheld_environmental_services_and_public_protection: int | None = None
    decisions_highways_and_transport: int | None = None
    upheld_highways_and_transport: int | None = None
    decisions_housing: int | None = None
    upheld_housing: int | None = None
    decisions_planning_and_development: int | None = None
    upheld_planning_and_development: int | None = None
    decisions_other: int | None = None
    upheld_other: int | None = None
    decisions_area_not_recorded: int | None = None
    upheld_area_not_recorded: int | None = None


class GroupAverage(BaseModel):
    comparison_group: str
    councils: int
    uphold_rate_percent: int | None
    compliance_rate_percent: int | None
    satisfactory_remedy_rate_percent: int | None
    upheld_per_100k: str | None


class YearSummary(BaseModel):
    financial_year: str
    letter_date: date
    publication_date: date
    councils: int
    csv_url: str
    json_url: str


class YearData(BaseModel):
    financial_year: str
    publication_date: date
    attribution: str
    licence: str
    group_averages: list[GroupAverage]
    councils: list[CouncilYearRecord]


class CouncilSummary(BaseModel):
    code: str
    name: str
    comparison_group: str
    abolished_after: date | None = Field(description="The council's last day, if abolished")
    years: list[str]


class CouncilData(CouncilSummary):
    figures: list[CouncilYearRecord] = Field(description="Newest year first")


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _base(request: Request) -> str:
    base: str = request.app.state.web_settings.base_url
    return base.rstrip("/")


def _records(year: YearEntry, base: str, code: str | None = None) -> list[CouncilYearRecord]:
    return [
        CouncilYearRecord(**row)
        for row in opendata.rows(year, base)
        if code is None or row["council_code"] == code
    ]


@router.get("/years", response_model=list[YearSummary], summary="Every published year")
async def years(request: Request) -> list[YearSummary]:
    catalogue = await _site(request).catalogue()
    base = _base(request)
    return [
        YearSummary(
            financial_year=y.year.label,
            letter_date=y.letter_date,
            publication_date=y.publication_date,
            councils=len(y.councils),
            csv_url=f"{base}/data/{y.year.label}.csv",
            json_url=f"{base}/data/{y.year.label}.json",
        )
        for y in catalogue.years.values()
    ]


@router.get(
    "/years/{financial_year}",
    response_model=YearData,
    summary="A published year: the group averages and every council",
    responses={404: {"description": "No such published year"}},
)
async def year(request: Request, financial_year: str) -> YearData:
    catalogue = await _site(request).catalogue()
    try:
        entry = catalogue.years.get(FinancialYear.parse(financial_year))
    except NotAFinancialYear:
        entry = None
    if entry is None:
        raise HTTPException(404, f"no published figures for {financial_year!r}")
    return YearData(
        financial_year=entry.year.label,
        publication_date=entry.publication_date,
        attribution=opendata.ATTRIBUTION,
        licence=opendata.LICENCE_URL,
        group_averages=[
            GroupAverage(
                comparison_group=g.value,
                councils=entry.groups[g].councils,
                uphold_rate_percent=entry.group_percent(g, "uphold_rate"),
                compliance_rate_percent=entry.group_percent(g, "compliance_rate"),
                satisfactory_remedy_rate_percent=entry.group_percent(g, "satisfactory_remedy_rate"),
                upheld_per_100k=entry.group_per_100k(g) if entry.has_per_100k else None,
            )
            for g in entry.groups
        ],
        councils=_records(entry, _base(request)),
    )


@router.get("/councils", response_model=list[CouncilSummary], summary="Every council published")
async def councils(request: Request) -> list[CouncilSummary]:
    catalogue = await _site(request).catalogue()
    return [
        CouncilSummary(
            code=c.code,
            name=c.name,
            comparison_group=c.group.value,
            abolished_after=c.existed_until,
            years=[y.label for y in c.years],
        )
        for c in catalogue.councils.values()
    ]


@router.get(
    "/councils/{code}",
    response_model=CouncilData,
    summary="A council's figures in every published year",
    responses={404: {"description": "No published figures for this council"}},
)
async def council(request: Request, code: str) -> CouncilData:
    catalogue = await _site(request).catalogue()
    found = catalogue.councils.get(code.upper())
    if found is None:
        raise HTTPException(404, f"no published figures for a council with the code {code!r}")
    base = _base(request)
    figures: list[CouncilYearRecord] = []
    for y in found.years:
        figures += _records(catalogue.years[y], base, found.code)
    return CouncilData(
        code=found.code, name=found.name, comparison_group=found.group.value,
        abolished_after=found.existed_until, years=[y.label for y in found.years],
        figures=figures,
    )  # fmt: skip
