#!/bin/sh
# docker-compose.yml's pg-roles job: infra/postgres/roles.sql (the script `make up` runs) with
# the passwords of the Docker secrets, as the postgres superuser, on every `docker compose up`.
set -eu
s=/run/secrets
PGPASSWORD=$(cat "$s/pg-postgres.password")
export PGPASSWORD
{
  printf '%s\n' "\\set owner_password '$(cat "$s/pg-annual_review.password")'"
  printf '%s\n' "\\set projector_password '$(cat "$s/pg-ar_projector.password")'"
  printf '%s\n' "\\set letters_password '$(cat "$s/pg-ar_letters.password")'"
  printf '%s\n' "\\set operator_password '$(cat "$s/pg-ar_operator.password")'"
  printf '%s\n' "\\set web_password '$(cat "$s/pg-ar_web.password")'"
  printf '%s\n' "\\set publication_password '$(cat "$s/pg-ar_publication.password")'"
  printf '%s\n' "\\set office_password '$(cat "$s/pg-ar_office.password")'"
  printf '%s\n' "\\i /infra/postgres/roles.sql"
} | psql -X -q -v ON_ERROR_STOP=1 -h postgres -U postgres -d postgres
