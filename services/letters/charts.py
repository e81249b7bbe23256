"""A small horizontal bar chart per statistic: the council beside its group average.

Pure SVG built as a string with MarkupSafe: ``Markup(...).format(...)`` escapes every value
put into it (``&<>"'``, which is also valid XML escaping), and the result is Markup, so the
autoescaping HTML template inserts it as it is, without escaping it twice.
No fonts or images are referenced: the text uses the generic families the PDF renderer and
any mail client already have.
"""

from __future__ import annotations

from markupsafe import Markup

from services.domain.letter import BlockKey, Letter, StatisticBlock

# Geometry in SVG user units; the CSS scales the whole drawing to the column width.
WIDTH = 500
ROW = 26  # height of one row
BAR = 14  # height of one bar
FONT_SIZE = 11
# Labels are right-aligned to LABEL_END: room for "Metropolitan Boroughs average", the
# longest, at about 0.6 em a character in DejaVu Sans.
LABEL_END = 196
TRACK_START = 204
TRACK_WIDTH = 240  # 100%
VALUE_X = TRACK_START + TRACK_WIDTH + 8
FONT = "DejaVu Sans, Verdana, sans-serif"
COUNCIL_COLOUR = "#1d5b79"
AVERAGE_COLOUR = "#7d8b94"
TRACK_COLOUR = "#e8ecef"
TEXT_COLOUR = "#1f2933"


def bar_chart(
    *,
    description: str,
    council_label: str,
    council: int | None,
    average_label: str,
    average: int | None,
) -> Markup:
    """Two bars on a 0-100% scale, each labelled with its rounded figure; a row without a
    figure prints ``no figure`` instead of a bar. ``description`` becomes the SVG's title
    (read out by screen readers)."""
    rows = _row(0, council_label, council, COUNCIL_COLOUR) + _row(
        1, average_label, average, AVERAGE_COLOUR
    )
    height = 2 * ROW + 4
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="{font}" font-size="{size}"><title>{title}</title>{rows}</svg>'
    ).format(width=WIDTH, height=height, font=FONT, size=FONT_SIZE, title=description, rows=rows)


def _row(index: int, label: str, value: int | None, colour: str) -> Markup:
    top = 2 + index * ROW
    bar_y = top + (ROW - BAR) // 2
    text_y = bar_y + BAR - 3  # baseline near the bar's bottom: reads as centred
    row = Markup(
        '<text x="{x}" y="{y}" text-anchor="end" fill="{ink}">{label}</text>'
        '<rect x="{track}" y="{bar_y}" width="{full}" height="{bar}" fill="{track_colour}"/>'
    ).format(
        x=LABEL_END,
        y=text_y,
        ink=TEXT_COLOUR,
        label=label,
        track=TRACK_START,
        bar_y=bar_y,
        full=TRACK_WIDTH,
        bar=BAR,
        track_colour=TRACK_COLOUR,
    )
    if value is None:
        return row + Markup(
            '<text x="{x}" y="{y}" fill="{ink}" font-style="italic">no figure</text>'
        ).format(x=TRACK_START + 6, y=text_y, ink=TEXT_COLOUR)
    if not 0 <= value <= 100:
        raise ValueError(f"a percentage chart cannot show {value}%")
    return row + Markup(
        '<rect x="{track}" y="{bar_y}" width="{width}" height="{bar}" fill="{colour}"/>'
        '<text x="{value_x}" y="{y}" font-weight="bold" fill="{ink}">{value}%</text>'
    ).format(
        track=TRACK_START,
        bar_y=bar_y,
        width=f"{TRACK_WIDTH * value / 100:g}",
        bar=BAR,
        colour=colour,
        value_x=VALUE_X,
        y=text_y,
        ink=TEXT_COLOUR,
        value=value,
    )


def block_chart(letter: Letter, block: StatisticBlock) -> Markup | None:
    """The chart of one block; None when the council has no figure (the block's sentence
    says why), as a chart of nothing would only suggest a zero."""
    if block.percentage is None:
        return None
    average_label = f"{letter.group_name} average"
    return bar_chart(
        description=(
            f"{block.title}: {letter.council_name} {block.percentage}%, "
            f"{average_label} " + ("no figure" if block.average is None else f"{block.average}%")
        ),
        council_label="Your council",  # as in the Ombudsman's "Your council's performance"
        council=block.percentage,
        average_label=average_label,
        average=block.average,
    )


def letter_charts(letter: Letter) -> dict[BlockKey, Markup | None]:
    return {block.key: block_chart(letter, block) for block in letter.blocks}
