"""The Ombudsman's five comparison groups."""

from __future__ import annotations

import enum


class ComparisonGroup(enum.StrEnum):
    """The Ombudsman's five comparison groups; a council's figures are compared with the
    average of its group."""

    COUNTY = "County"
    DISTRICT = "District"
    METROPOLITAN_BOROUGH = "Metropolitan Borough"
    UNITARY = "Unitary"
    LONDON_BOROUGH = "London Borough"

    @property
    def plural_name(self) -> str:
        """As the letters name the groups: ``District Councils``, ``London Boroughs``."""
        return {
            ComparisonGroup.COUNTY: "County Councils",
            ComparisonGroup.DISTRICT: "District Councils",
            ComparisonGroup.METROPOLITAN_BOROUGH: "Metropolitan Boroughs",
            ComparisonGroup.UNITARY: "Unitary Councils",
            ComparisonGroup.LONDON_BOROUGH: "London Boroughs",
        }[self]
