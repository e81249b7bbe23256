"""The year board is made from the services' own reads: each year in one row, newest first,
with its narrative, cut, completeness, parked and late events, letters and publication."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.financial_year import FinancialYear
from services.domain.narrative_book import NarrativeBook, NarrativeVersion
from services.office.board import build_board
from services.publication.job import Close
from services.readmodel.status import PartitionStatus, Status


def _status() -> Status:
    return Status(
        version="rm_v2",
        partitions=[PartitionStatus(0, 90, 100, None), PartitionStatus(1, 50, 50, None)],
        dead_letters={"open": 3, "resolved": 1},
        years=[
            {
                "financial_year": "2019-20",
                "start_year": 2019,
                "closed_partitions": "2/2",
                "cuts": {"0": 40, "1": 30},
                "complete": True,
                "late_events": 2,
            },
        ],
        parked=[
            {
                "council": "ZZZ",
                "financial_year": "2020-21",
                "events": 4,
                "since": "x",
                "year_closed": False,
            },
            {
                "council": "YYY",
                "financial_year": None,
                "events": 1,
                "since": "x",
                "year_closed": False,
            },
        ],
    )


def _book() -> NarrativeBook:
    book = NarrativeBook()
    book.versions[2020] = [
        NarrativeVersion(2020, 0, "2020", "text"),
        NarrativeVersion(
            2020,
            2,
            "2020",
            "text",
            registered_at=datetime(2020, 6, 1, tzinfo=UTC),
            registered_by="ada",
        ),
    ]
    return book


def test_each_year_has_its_state_from_the_reads() -> None:
    letters = [
        {"financial_year": "2019-20", "state": "sent"},
        {"financial_year": "2019-20", "state": "sent"},
        {"financial_year": "2019-20", "state": "held"},
    ]
    closes = [Close(FinancialYear(2019), date(2020, 7, 29), datetime(2020, 7, 28, 23, tzinfo=UTC))]
    board = build_board(
        _status(), {"by_state": {"sent": 2, "held": 1}}, letters, closes, _book(), None
    )
    assert [y.year.label for y in board.years] == ["2020-21", "2019-20"]
    parked_year, closed_year = board.years
    assert parked_year.parked_events == 4 and parked_year.closed == "not closed"
    assert parked_year.publication == "not closed"
    assert closed_year.narrative == "version 2, registered 1 June 2020 by ada"
    assert closed_year.closed == "2/2 partitions cut" and closed_year.cuts == {"0": 40, "1": 30}
    assert closed_year.complete and closed_year.late_events == 2
    assert closed_year.letters == {"held": 1, "sent": 2}
    assert closed_year.publication == "published 28 July 2020"
    assert board.parked_events == 5 and board.dead_letters == {"open": 3, "resolved": 1}
    assert [p.lag for p in board.partitions] == [10, 0]


def test_without_kafka_the_board_says_what_it_does_not_know() -> None:
    closes = [Close(FinancialYear(2019), date(2020, 7, 29), None)]
    board = build_board(_status(), {"by_state": {}}, [], closes, None, "Kafka is not reachable")
    year = next(y for y in board.years if y.year.start_year == 2019)
    assert year.narrative == "unknown (Kafka is not reachable)"
    assert year.publication == "to be published 29 July 2020 (00:00 UK time)"
    assert board.kafka_error == "Kafka is not reachable"
