#!/bin/sh
# docker-compose.yml's keycloak service: the realm of `make up` (infra/keycloak/realm.json),
# its passwords and the office client's secret read from the Docker secrets into the
# environment the realm file's ${...} placeholders name (as keycloak.sh does locally).
set -eu
s=/run/secrets
KC_OFFICE_CLIENT_SECRET=$(cat "$s/keycloak-office-client.password")
KC_BOOTSTRAP_ADMIN_PASSWORD=$(cat "$s/keycloak-admin.password")
KC_USER_PASSWORD_AUTHOR=$(cat "$s/keycloak-author.password")
KC_USER_PASSWORD_APPROVER=$(cat "$s/keycloak-approver.password")
KC_USER_PASSWORD_APPROVER2=$(cat "$s/keycloak-approver2.password")
KC_USER_PASSWORD_DATAOFFICER=$(cat "$s/keycloak-dataofficer.password")
KC_USER_PASSWORD_VIEWER=$(cat "$s/keycloak-viewer.password")
export KC_OFFICE_CLIENT_SECRET KC_BOOTSTRAP_ADMIN_PASSWORD KC_USER_PASSWORD_AUTHOR \
  KC_USER_PASSWORD_APPROVER KC_USER_PASSWORD_APPROVER2 KC_USER_PASSWORD_DATAOFFICER \
  KC_USER_PASSWORD_VIEWER
mkdir -p /opt/keycloak/data/import
cp /infra/keycloak/realm.json /opt/keycloak/data/import/annual-review-office-realm.json
exec /opt/keycloak/bin/kc.sh start-dev --http-port=18080 --import-realm
