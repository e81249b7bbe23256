#!/usr/bin/env bash
# TLS for the local broker: a CA the project makes for its own tests, the broker's
# certificate, and one client certificate per principal, in .local/kafka/tls (directory 0700,
# keys 0600). For local development and tests only: a real deployment's brokers have
# certificates from its own PKI (docs/security.md, "TLS").
#   tls.sh setup   create what is missing; idempotent. The broker's and the clients'
#                  certificates are made again when they expire within 30 days or when the
#                  CA is new; the CA is kept until it expires within 30 days.
#   tls.sh paths   print where the files are (KEY=path lines)
# Files: ca.crt (the trust anchor clients are given: AR_KAFKA_SSL_CA_FILE), ca.key,
#        broker.pem (the broker's PEM key store: private key + certificate chain, names
#        127.0.0.1 and localhost), clients/<principal>.crt|.key (CN=<principal>; on the SSL
#        listener the broker maps that subject to User:<principal>, whose ACLs apply).
set -euo pipefail
AR_COMPONENT=kafka-tls
# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/../lib.sh"

TLS_DIR="$AR_LOCAL/kafka/tls"
CLIENTS="$TLS_DIR/clients"
DAYS_CA=3650
DAYS_LEAF=825
RENEW_S=$((30 * 24 * 3600))
PRINCIPALS=(admin cms projector letters operator)
# The subject of a principal's client certificate; kafka.sh maps it back to the principal.
SUBJECT_BASE="/O=annual-review/OU=principals"

need_openssl() {
  command -v openssl >/dev/null || die "openssl not found (Debian: apt-get install -y openssl)"
}

# valid FILE: the certificate exists and does not expire within 30 days.
valid() {
  [[ -s $1 ]] && openssl x509 -in "$1" -noout -checkend "$RENEW_S" >/dev/null 2>&1
}

# signed_by_ca FILE: the current CA signed the certificate.
signed_by_ca() {
  openssl verify -CAfile "$TLS_DIR/ca.crt" "$1" >/dev/null 2>&1
}

make_ca() {
  say "creating the local test CA (.local/kafka/tls/ca.crt, valid ${DAYS_CA} days)"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
      -out "$TLS_DIR/ca.key" 2>/dev/null)
  openssl req -x509 -new -key "$TLS_DIR/ca.key" -sha256 -days "$DAYS_CA" \
    -subj "/O=annual-review/CN=annual-review local test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$TLS_DIR/ca.crt" 2>/dev/null || die "openssl could not create the CA"
}

# leaf NAME SUBJECT EXTENSIONS OUT_PREFIX: a key (PKCS#8, unencrypted, 0600) and a
# certificate signed by the CA.
leaf() {
  local name=$1 subject=$2 ext=$3 out=$4 extfile
  extfile=$(mktemp)
  printf '%s\n' "$ext" >"$extfile"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
      -out "$out.key" 2>/dev/null)
  if ! openssl req -new -key "$out.key" -subj "$subject" 2>/dev/null \
      | openssl x509 -req -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
          -CAserial "$TLS_DIR/ca.srl" -sha256 -days "$DAYS_LEAF" -extfile "$extfile" \
          -out "$out.crt" 2>/dev/null; then
    rm -f "$extfile"
    die "openssl could not sign the certificate of $name"
  fi
  rm -f "$extfile"
  chmod 600 "$out.key"
}

cmd_setup() {
  need_openssl
  (umask 077 && mkdir -p "$TLS_DIR" "$CLIENTS")
  chmod 700 "$TLS_DIR" "$CLIENTS"
  local fresh_ca=0 made=0 p
  if ! valid "$TLS_DIR/ca.crt" || [[ ! -s $TLS_DIR/ca.key ]]; then
    make_ca
    fresh_ca=1
  fi
  if (( fresh_ca )) || ! valid "$TLS_DIR/broker.crt" || ! signed_by_ca "$TLS_DIR/broker.crt"; then
    leaf broker "/O=annual-review/CN=localhost" \
      "$(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
          'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost')" \
      "$TLS_DIR/broker"
    # Kafka's PEM key store: the private key, then the certificate chain.
    (umask 077 && cat "$TLS_DIR/broker.key" "$TLS_DIR/broker.crt" "$TLS_DIR/ca.crt" \
        >"$TLS_DIR/broker.pem")
    made=$((made + 1))
  fi
  for p in "${PRINCIPALS[@]}"; do
    if (( fresh_ca )) || ! valid "$CLIENTS/$p.crt" || ! signed_by_ca "$CLIENTS/$p.crt"; then
      leaf "$p" "$SUBJECT_BASE/CN=$p" \
        "$(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
            'extendedKeyUsage=clientAuth')" \
        "$CLIENTS/$p"
      made=$((made + 1))
    fi
  done
  if (( made )); then
    say "made $made certificate(s) in .local/kafka/tls, signed by the local test CA"
  else
    say "certificates in .local/kafka/tls are current"
  fi
}

cmd_paths() {
  echo "CA_FILE=$TLS_DIR/ca.crt"
  echo "BROKER_KEYSTORE=$TLS_DIR/broker.pem"
  local p
  for p in "${PRINCIPALS[@]}"; do
    echo "CERT_FILE_$p=$CLIENTS/$p.crt"
    echo "KEY_FILE_$p=$CLIENTS/$p.key"
  done
}

case "${1:-}" in
  setup) cmd_setup ;;
  paths) cmd_paths ;;
  *) echo "usage: $0 setup|paths" >&2; exit 2 ;;
esac
