"""Service areas, decision addresses and council coordinates (docs/domain.md §10): the
contract refuses what it must, old events still read, and the map places councils where
they are relative to each other."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from typing import Any

import pytest

from contracts.codec import Reason, RejectedMessage, decode
from contracts.events import (
    CouncilDetailsChanged,
    CouncilRegistered,
    DecisionCorrected,
    DecisionOutcome,
    DecisionRecorded,
    ServiceArea,
)
from contracts.examples import OLD_VERSION_EXAMPLES
from contracts.registry import CURRENT_VERSIONS
from contracts.values import DEFAULT_DECISIONS_HOST, decisions_host
from services.councils.mysociety import parse_row
from services.councils.rows import RowError
from services.simulator.service_areas import MIX, published_url_of, service_area_of
from services.web.england_map import HEIGHT, WIDTH, Place, england_map, project

URL = "https://www.lgo.org.uk/decisions/housing/19-012-345"


def old(event_type: str, version: int, **data: Any) -> bytes:
    message = copy.deepcopy(OLD_VERSION_EXAMPLES[(event_type, version)])
    message["data"].update(data)
    return json.dumps(message).encode()


def decision(**data: Any) -> DecisionRecorded:
    base: dict[str, Any] = {"case_reference": "19 012 345", "decision_date": date(2020, 2, 14),
                            "outcome": "upheld"}  # fmt: skip
    return DecisionRecorded.model_validate(base | data)


# --- the contract -------------------------------------------------------------------------


def test_the_current_versions_carry_the_new_fields() -> None:
    # If these change, add an upcaster and an OLD_VERSION_EXAMPLES entry for the old one.
    assert CURRENT_VERSIONS["DecisionRecorded"] == 3
    assert CURRENT_VERSIONS["DecisionCorrected"] == 2
    assert CURRENT_VERSIONS["CouncilRegistered"] == 2
    assert CURRENT_VERSIONS["CouncilDetailsChanged"] == 2


@pytest.mark.parametrize(
    ("event_type", "version", "model"),
    [("DecisionRecorded", 1, DecisionRecorded), ("DecisionRecorded", 2, DecisionRecorded),
     ("DecisionCorrected", 1, DecisionCorrected)],
)  # fmt: skip
def test_an_old_decision_reads_with_no_service_area_and_no_address(
    event_type: str, version: int, model: type[DecisionRecorded | DecisionCorrected]
) -> None:
    event = decode(old(event_type, version))

    assert event.schema_version == CURRENT_VERSIONS[event_type]
    assert isinstance(event.data, model)
    assert event.data.service_area is None
    assert event.data.published_url is None


def test_an_old_registration_reads_without_coordinates() -> None:
    event = decode(old("CouncilRegistered", 1))

    assert event.schema_version == 2
    assert isinstance(event.data, CouncilRegistered)
    assert (event.data.latitude, event.data.longitude) == (None, None)
    assert event.data.name == "Mansfield District Council"


def test_an_old_change_keeps_the_coordinates_it_never_mentioned() -> None:
    event = decode(old("CouncilDetailsChanged", 1))

    assert isinstance(event.data, CouncilDetailsChanged)
    # Left out means "unchanged": the upcaster must not turn it into "removed".
    assert "latitude" not in event.data.model_fields_set
    assert "latitude" not in event.data.model_dump(mode="json")


def test_a_decision_with_every_new_field_round_trips() -> None:
    d = decision(service_area="education_and_childrens_services", published_url=URL)
    assert d.service_area is ServiceArea.EDUCATION_AND_CHILDRENS_SERVICES
    assert d.published_url == URL
    assert d.service_area.label == "Education and children's services"


def test_every_service_area_has_its_reports_label() -> None:
    assert [a.label for a in ServiceArea] == [
        "Adult care services", "Benefits and tax", "Corporate and other services",
        "Education and children's services", "Environmental services and public protection",
        "Highways and transport", "Housing", "Planning and development", "Other",
    ]  # fmt: skip


def test_an_unknown_service_area_is_invalid_data() -> None:
    message = copy.deepcopy(OLD_VERSION_EXAMPLES[("DecisionRecorded", 2)])
    message["schema_version"] = 3
    message["data"]["service_area"] = "parking"

    with pytest.raises(RejectedMessage) as refused:
        decode(json.dumps(message).encode())

    assert refused.value.reason is Reason.INVALID_DATA
    assert "service_area" in refused.value.detail


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://www.lgo.org.uk/decisions/housing/19-012-345", "https://"),
        ("https://www.example.org/decisions/19-012-345", "must be on www.lgo.org.uk"),
        ("https://www.lgo.org.uk.evil.example/decisions", "must be on www.lgo.org.uk"),
        ("https://user@www.lgo.org.uk/decisions", "user, password or port"),
        ("https://www.lgo.org.uk:8443/decisions", "user, password or port"),
        ("javascript:alert(1)", "https://"),
    ],
)
def test_a_published_url_not_https_or_on_another_host_is_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decision(published_url=url)


def test_the_decisions_host_defaults_to_the_ombudsmans_site() -> None:
    assert DEFAULT_DECISIONS_HOST == "www.lgo.org.uk"
    assert decisions_host() == "www.lgo.org.uk"  # AR_DECISIONS_HOST is not set in the tests


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(48.9, -1.0), (56.5, -3.2), (52.0, -7.5), (51.5, 2.5), (-53.1, 1.2)],
    ids=["channel", "scotland", "ireland", "north-sea", "swapped-sign"],
)
def test_coordinates_outside_england_are_refused(latitude: float, longitude: float) -> None:
    with pytest.raises(ValueError, match=r"latitude|longitude"):
        CouncilRegistered(name="X Council", comparison_group="District",
                          latitude=latitude, longitude=longitude)  # fmt: skip


def test_coordinates_go_together() -> None:
    with pytest.raises(ValueError, match="go together"):
        CouncilRegistered(name="X Council", comparison_group="District", latitude=53.0)
    with pytest.raises(ValueError, match="go together"):
        CouncilDetailsChanged(longitude=-1.0)


# --- the register import ------------------------------------------------------------------


def _mysociety_row(**cells: str) -> dict[str, str]:
    row = {"local-authority-code": "MAS", "official-name": "Mansfield District Council",
           "nation": "England", "local-authority-type": "NMD", "start-date": "",
           "end-date": "", "lat": "53.1707150284", "long": "-1.1727869591"}  # fmt: skip
    return row | cells


def test_the_register_import_carries_the_coordinates() -> None:
    record = parse_row(_mysociety_row(), 2, {})
    assert (record.details.latitude, record.details.longitude) == (53.1707150284, -1.1727869591)


def test_a_register_row_without_coordinates_still_imports() -> None:
    record = parse_row(_mysociety_row(lat="", long=""), 2, {})
    assert record.details.latitude is None


def test_a_register_row_placed_outside_england_is_refused() -> None:
    with pytest.raises(RowError, match="latitude"):
        parse_row(_mysociety_row(lat="57.1"), 2, {})


# --- the simulator ------------------------------------------------------------------------


def test_the_simulated_mix_is_realistic_and_stable() -> None:
    assert sum(MIX.values()) == 100
    refs = [f"19 {n // 1000:03d} {n % 1000:03d}" for n in range(20_000)]
    areas = [service_area_of(r) for r in refs]
    share = areas.count(ServiceArea.EDUCATION_AND_CHILDRENS_SERVICES) / len(areas)
    assert 0.25 < share < 0.29  # 27% in the Ombudsman's 2024-25 review
    assert set(areas) == set(ServiceArea)
    # The same case keeps its area on every correction.
    assert service_area_of("19 001 234") is service_area_of("19 001 234")


def test_the_simulator_publishes_addresses_the_contract_accepts() -> None:
    url = published_url_of("19 001 234", DecisionOutcome.UPHELD)
    assert url is not None
    assert decision(case_reference="19 001 234", published_url=url).published_url == url
    assert published_url_of("19 001 234", DecisionOutcome.ADVICE_GIVEN) is None


# --- the map ------------------------------------------------------------------------------

NEWCASTLE = (54.978, -1.6178)
CORNWALL = (50.4056, -4.8272)
NORWICH = (52.6309, 1.2974)
CAMDEN = (51.5464, -0.1574)
MANSFIELD = (53.1707, -1.1728)


def test_the_projection_keeps_north_up_and_east_right() -> None:
    _, ny = project(*NEWCASTLE)
    cx, cy = project(*CORNWALL)
    wx, _ = project(*NORWICH)
    lx, ly = project(*CAMDEN)
    mx, my = project(*MANSFIELD)
    assert ny < my < ly < cy  # north to south: Newcastle, Mansfield, London, Cornwall
    assert cx < mx < lx < wx  # west to east: Cornwall, Mansfield, London, Norwich
    for x, y in (project(*p) for p in (NEWCASTLE, CORNWALL, NORWICH, CAMDEN, MANSFIELD)):
        assert 0 < x < WIDTH and 0 < y < HEIGHT


def test_the_projection_keeps_distances_in_proportion() -> None:
    # London to Newcastle is about 400 km, London to Norwich about 160 km: ratio 2.5.
    lx, ly = project(*CAMDEN)
    far = ((project(*NEWCASTLE)[0] - lx) ** 2 + (project(*NEWCASTLE)[1] - ly) ** 2) ** 0.5
    near = ((project(*NORWICH)[0] - lx) ** 2 + (project(*NORWICH)[1] - ly) ** 2) ** 0.5
    assert 2.2 < far / near < 2.8


def test_the_map_links_every_council_in_one_colour() -> None:
    svg = str(england_map(
        [Place("MAS", "Mansfield <District> Council", *MANSFIELD, "/councils/MAS"),
         Place("CMD", "London Borough of Camden", *CAMDEN, "/councils/CMD")],
        "Map",
    ))  # fmt: skip
    assert svg.count("<a href=") == 2
    assert '<a href="/councils/MAS"' in svg and '<a href="/councils/CMD"' in svg
    assert "Mansfield &lt;District&gt; Council" in svg  # escaped
    assert len(set(re.findall(r'circle [^>]*fill="([^"]+)"', svg))) == 1
    assert "style=" not in svg  # the site's CSP allows no inline style
    # Alphabetical: the order a keyboard user tabs through them.
    assert svg.index("Camden") < svg.index("Mansfield")
