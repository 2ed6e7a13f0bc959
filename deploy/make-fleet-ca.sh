#!/usr/bin/env bash
# Make a fleet CA and per-robot certificates with openssl, for mutual TLS
# between peers and for the MQTT TLS listener (docs/operating.md, "TLS").
#
#   make-fleet-ca.sh --out DIR ca [--fleet NAME] [--days N]
#       DIR/ca.key (keep it off the robots), DIR/ca.crt (give it to every robot)
#   make-fleet-ca.sh --out DIR robot ID [--dns NAME]... [--ip ADDR]... [--days N]
#       DIR/ID.key and DIR/ID.crt, signed by DIR/ca.key; the certificate names
#       ID and ID.local (plus the names and addresses given), for server and
#       client use (a peer is both).
#
# Idempotent: an existing key or certificate is kept, never overwritten.
# Keys are ECDSA P-256 (small and fast on robot computers), mode 0600.
set -euo pipefail

die() { echo "make-fleet-ca.sh: $*" >&2; exit 1; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

OUT='' FLEET=fleet DAYS='' CMD='' ID=''
DNS=() IPS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) OUT=${2:?}; shift ;;
    --fleet) FLEET=${2:?}; shift ;;
    --days) DAYS=${2:?}; shift ;;
    --dns) DNS+=("${2:?}"); shift ;;
    --ip) IPS+=("${2:?}"); shift ;;
    -h | --help) usage; exit 0 ;;
    ca) CMD=ca ;;
    robot) CMD=robot; ID=${2:-}; [[ $# -ge 2 ]] && shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
[[ -n $OUT ]] || { usage >&2; die "--out DIR is required"; }
[[ -n $CMD ]] || { usage >&2; die "say ca or robot ID"; }
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
[[ -z $DAYS || $DAYS =~ ^[0-9]+$ ]] || die "--days must be a number"
mkdir -p "$OUT"
umask 077

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 0600 "$1"; }

if [[ $CMD == ca ]]; then
  if [[ -f $OUT/ca.crt ]]; then
    echo "kept the existing CA $OUT/ca.crt"
    exit 0
  fi
  [[ -f $OUT/ca.key ]] || newkey "$OUT/ca.key"
  openssl req -x509 -new -key "$OUT/ca.key" -sha256 -days "${DAYS:-3650}" -subj "/O=fleetkv/CN=$FLEET fleet CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$OUT/ca.crt"
  chmod 0644 "$OUT/ca.crt"
  echo "made $OUT/ca.crt (give it to every robot) and $OUT/ca.key (keep it safe, off the robots)"
  exit 0
fi

[[ $ID =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "robot ID must be a node id (1-64 of A-Z a-z 0-9 _ . -), got '$ID'"
[[ -f $OUT/ca.key && -f $OUT/ca.crt ]] || die "no CA in $OUT: run make-fleet-ca.sh --out $OUT ca first"
if [[ -f $OUT/$ID.crt ]]; then
  echo "kept the existing $OUT/$ID.crt"
  exit 0
fi
[[ -f $OUT/$ID.key ]] || newkey "$OUT/$ID.key"
san="DNS:$ID,DNS:$ID.local"
for d in "${DNS[@]}"; do san+=",DNS:$d"; done
for i in "${IPS[@]}"; do san+=",IP:$i"; done
ext=$(mktemp)
trap 'rm -f "$ext" "$OUT/$ID.csr"' EXIT
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" >"$ext"
openssl req -new -key "$OUT/$ID.key" -subj "/O=fleetkv/OU=$FLEET/CN=$ID" -out "$OUT/$ID.csr"
openssl x509 -req -in "$OUT/$ID.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial -sha256 -days "${DAYS:-825}" \
  -extfile "$ext" -out "$OUT/$ID.crt" 2>/dev/null
chmod 0644 "$OUT/$ID.crt"
echo "made $OUT/$ID.crt and $OUT/$ID.key for $ID ($san)"
echo "on $ID: install ca.crt, $ID.crt and $ID.key into /etc/fleetkv/tls/ (key mode 0640, group fleetkv)"
