# One image for every Python service (projector, letters) and the one-shot init job.
# `make up` does not use Docker; this is for users who prefer `docker compose up`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint needs Pango and HarfBuzz; pdftoppm (poppler-utils) renders letter previews.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md* ./
COPY contracts ./contracts
COPY services ./services
RUN pip install .

RUN useradd --system --uid 10001 --no-create-home annual-review
USER annual-review

CMD ["annual-review", "--help"]
