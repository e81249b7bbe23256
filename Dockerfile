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
# The runtime lock (`make lock`, docs/security.md "Dependencies"): every distribution at the
# version the tests ran, each checked against its sha256; nothing is resolved here. Copied
# first, so the dependency layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md* ./
COPY contracts ./contracts
COPY services ./services
# The project alone, built with the locked setuptools (no isolated build fetching its own).
RUN pip install --no-deps --no-build-isolation .

RUN useradd --system --uid 10001 --no-create-home annual-review \
    && install -d -o annual-review -m 0700 /var/lib/annual-review/proofs
USER annual-review

CMD ["annual-review", "--help"]
