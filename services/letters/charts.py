"""A small horizontal bar chart per statistic: the council beside its group average.

Two drawings of the same chart, one per medium:

* the PDF's, SVG (vector; its ``<title>`` becomes the tagged PDF's alternative text, so a
  screen reader reads the figures the bars show);
* the email's, a table whose cells are the bars (``bgcolor`` and percentage widths, which
  Outlook's Word engine, Gmail and browsers all draw; Outlook shows no inline SVG), with the
  labels and figures as ordinary text.

Both are built as strings with MarkupSafe: ``Markup(...).format(...)`` escapes every value
put into it (``&<>"'``, which is also valid XML escaping), and the result is Markup, so the
autoescaping HTML template inserts it as it is, without escaping it twice.
No fonts or images are referenced: the text uses the generic families the PDF renderer and
any mail client already have.
"""

from __future__ import annotations

from markupsafe import Markup

from services.domain.letter import Letter
from services.domain.letter_blocks import BlockKey, StatisticBlock

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
COUNCIL_LABEL = "Your council"  # as in the Ombudsman's "Your council's performance"


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
        council_label=COUNCIL_LABEL,
        council=block.percentage,
        average_label=average_label,
        average=block.average,
    )


def letter_charts(letter: Letter) -> dict[BlockKey, Markup | None]:
    return {block.key: block_chart(letter, block) for block in letter.blocks}


# --- the email's chart: table cells ---------------------------------------------------------

# Inline styles as well as attributes: Gmail drops some <style> rules and Outlook reads the
# attributes (width, bgcolor, height) where it ignores CSS. Sizes in px, as mail clients are.
_CELL_TEXT = "font-family:{font};font-size:12px;line-height:16px;color:{ink};".format(
    font="Verdana,'DejaVu Sans',Arial,sans-serif", ink=TEXT_COLOUR
)
EMAIL_BAR_HEIGHT = 14  # px


def email_chart(
    *,
    council_label: str,
    council: int | None,
    average_label: str,
    average: int | None,
) -> Markup:
    """The two bars as a layout table: label | bar on a 0-100% track | figure. A row without
    a figure prints ``no figure`` instead of a bar. The table is presentational: the labels
    and figures are text, read in order (``Your council 61%``); the bar cells are hidden
    from screen readers, as they repeat the figure beside them."""
    rows = _email_row(council_label, council, COUNCIL_COLOUR) + _email_row(
        average_label, average, AVERAGE_COLOUR
    )
    return Markup(
        '<table role="presentation" class="bars" width="100%" cellpadding="0" cellspacing="0" '
        'border="0" style="border-collapse:collapse;width:100%;max-width:560px;">{rows}</table>'
    ).format(rows=rows)


def _email_row(label: str, value: int | None, colour: str) -> Markup:
    if value is None:
        track = Markup('<span style="{text}font-style:italic;">no figure</span>').format(
            text=_CELL_TEXT
        )
        figure = Markup("")
    else:
        if not 0 <= value <= 100:
            raise ValueError(f"a percentage chart cannot show {value}%")
        track = _email_track(value, colour)
        figure = Markup("{value}%").format(value=value)
    return Markup(
        "<tr>"
        '<td class="bar-label" width="38%" align="right" valign="middle" '
        'style="{text}width:38%;padding:3px 8px 3px 0;text-align:right;">{label}</td>'
        '<td class="bar-track" width="50%" valign="middle" style="width:50%;padding:3px 0;">'
        "{track}</td>"
        '<td class="bar-value" valign="middle" '
        'style="{text}padding:3px 0 3px 8px;font-weight:bold;white-space:nowrap;">{figure}</td>'
        "</tr>"
    ).format(text=_CELL_TEXT, label=label, track=track, figure=figure)


def _email_track(value: int, colour: str) -> Markup:
    """The bar and the rest of its track as two cells of one row (a cell of width 0 would
    still be drawn a few pixels wide, so 0% and 100% have one cell only)."""
    cells = Markup("")
    for width, fill in ((value, colour), (100 - value, TRACK_COLOUR)):
        if width:
            cells += Markup(
                '<td width="{w}%" height="{h}" bgcolor="{fill}" '
                'style="width:{w}%;height:{h}px;background-color:{fill};font-size:1px;'
                'line-height:1px;mso-line-height-rule:exactly;">&nbsp;</td>'
            ).format(w=width, h=EMAIL_BAR_HEIGHT, fill=fill)
    return Markup(
        '<table role="presentation" aria-hidden="true" width="100%" cellpadding="0" '
        'cellspacing="0" border="0" style="border-collapse:collapse;width:100%;">'
        "<tr>{cells}</tr></table>"
    ).format(cells=cells)


def block_email_chart(letter: Letter, block: StatisticBlock) -> Markup | None:
    """The email's chart of one block; None when the council has no figure, as block_chart."""
    if block.percentage is None:
        return None
    return email_chart(
        council_label=COUNCIL_LABEL,
        council=block.percentage,
        average_label=f"{letter.group_name} average",
        average=block.average,
    )


def letter_email_charts(letter: Letter) -> dict[BlockKey, Markup | None]:
    return {block.key: block_email_chart(letter, block) for block in letter.blocks}
