"""A POSTed form's fields: the workspace's forms are URL-encoded (no uploads), read with the
standard library as services/office/guard.py reads the CSRF token (no multipart parser)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from services.office.guard import FORM_TYPE, MAX_FORM_BYTES


async def form_fields(request: Request) -> dict[str, str]:
    """Each field's single value; a field sent twice, or a body too large or of another
    type, gives nothing for it (the page then asks again)."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPE):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if len(v) == 1}
