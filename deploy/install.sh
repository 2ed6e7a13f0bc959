#!/usr/bin/env bash
# Install (or upgrade, or remove) fleetkv on one robot as a systemd service.
# Idempotent: run it again with a newer release to upgrade; data and config
# are kept. See docs/operating.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh [options]             install or upgrade from a release
       install.sh --uninstall [--purge] remove fleetkv (keeps config and data unless --purge)

options:
  --from PATH              release tarball (fleetkv-<version>.tar.gz) or unpacked release
                           directory (default: the release this script sits in)
  --node-id ID             this robot's node id (default: the host name); first install only
  --fleet-id ID            fleet id (default: "default"); first install only
  --peers LIST             static peers, host:port,host:port; first install only
  --fleet-secret-file FILE the fleet's shared secret (every robot needs the same one);
                           first install only. Without it a new secret is generated:
                           copy it from /etc/fleetkv/fleetkv.json to the other robots.
  --node PATH              node binary for the unit's ExecStart (default: node on PATH)
  --no-start               install and enable, but do not (re)start the service
  --root DIR               install into DIR as if it were / (image building, tests):
                           no running systemd is touched; the unit is enabled with
                           `systemctl --root`, the user created with `useradd --prefix`
                           when DIR/etc/passwd exists
  -h, --help               this text
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
note() { echo "  $*"; }

ROOT=/ FROM='' NODE_ID='' FLEET_ID=default PEERS='' SECRET_FILE='' NODE_BIN='' START=1 MODE=install PURGE=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --from) FROM=${2:?}; shift ;;
    --node-id) NODE_ID=${2:?}; shift ;;
    --fleet-id) FLEET_ID=${2:?}; shift ;;
    --peers) PEERS=${2?}; shift ;;
    --fleet-secret-file) SECRET_FILE=${2:?}; shift ;;
    --node) NODE_BIN=${2:?}; shift ;;
    --no-start) START=0 ;;
    --root) ROOT=${2:?}; shift ;;
    --uninstall) MODE=uninstall ;;
    --purge) PURGE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
[[ $PURGE == 1 && $MODE != uninstall ]] && die "--purge goes with --uninstall"

# Paths on the target system; r() maps one under --root.
USER_NAME=fleetkv
APP=/opt/fleetkv
ETC=/etc/fleetkv
CONFIG=$ETC/fleetkv.json
DATA=/var/lib/fleetkv
UNIT=/etc/systemd/system/fleetkv.service
WRAPPER=/usr/local/bin/fleetkv
ROOT=$(cd "$ROOT" 2>/dev/null && pwd) || die "--root: no such directory"
r() { if [[ $ROOT == / ]]; then printf '%s' "$1"; else printf '%s%s' "$ROOT" "$1"; fi; }

LIVE=0 # a running systemd on this very machine
[[ $ROOT == / && -d /run/systemd/system ]] && LIVE=1
IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1
[[ $ROOT == / && $IS_ROOT == 0 ]] && die "run as root (sudo), or use --root DIR"

systemctl_() { if [[ $LIVE == 1 ]]; then systemctl "$@"; else systemctl --root="$ROOT" "$@"; fi; }

# ---------------------------------------------------------------- the user

user_exists() {
  if [[ $ROOT == / ]]; then getent passwd "$USER_NAME" >/dev/null; else grep -q "^$USER_NAME:" "$(r /etc/passwd)" 2>/dev/null; fi
}

ensure_user() {
  user_exists && return 0
  if [[ $ROOT != / && ! -f $(r /etc/passwd) ]]; then
    note "no $(r /etc/passwd): not creating user $USER_NAME (files stay owned by $(id -un))"
    return 0
  fi
  [[ $IS_ROOT == 1 ]] || { note "not root: not creating user $USER_NAME"; return 0; }
  local prefix=()
  [[ $ROOT != / ]] && prefix=(--prefix "$ROOT")
  useradd "${prefix[@]}" --system --user-group --home-dir "$DATA" --no-create-home \
    --shell /usr/sbin/nologin --comment 'fleetkv service' "$USER_NAME"
  note "created system user $USER_NAME"
}

# chown to the service user (numeric ids from the target's passwd under --root).
own() {
  local spec=$1; shift
  user_exists && [[ $IS_ROOT == 1 ]] || return 0
  if [[ $ROOT != / ]]; then
    local uid gid
    uid=$(awk -F: -v u="$USER_NAME" '$1 == u { print $3 }' "$(r /etc/passwd)")
    gid=$(awk -F: -v u="$USER_NAME" '$1 == u { print $4 }' "$(r /etc/passwd)")
    spec=${spec//$USER_NAME/}
    case $spec in
      :) spec="$uid:$gid" ;;   # fleetkv:fleetkv
      root:) spec="0:$gid" ;;  # root:fleetkv
    esac
  fi
  chown "$spec" "$@"
}

# ---------------------------------------------------------------- uninstall

if [[ $MODE == uninstall ]]; then
  echo "Removing fleetkv from ${ROOT}"
  if [[ -f $(r "$UNIT") ]]; then
    if [[ $LIVE == 1 ]]; then systemctl disable --now fleetkv.service || true; else systemctl_ disable fleetkv.service >/dev/null 2>&1 || true; fi
    rm -f "$(r "$UNIT")"
    [[ $LIVE == 1 ]] && systemctl daemon-reload
    note "stopped, disabled and removed the unit"
  fi
  rm -rf "$(r "$APP")" "$(r "$WRAPPER")"
  note "removed $APP and $WRAPPER"
  if [[ $PURGE == 1 ]]; then
    rm -rf "$(r "$ETC")" "$(r "$DATA")"
    note "purged $ETC and $DATA"
    if user_exists && [[ $IS_ROOT == 1 ]]; then
      prefix=()
      [[ $ROOT != / ]] && prefix=(--prefix "$ROOT")
      userdel "${prefix[@]}" "$USER_NAME"
      # userdel keeps the group when the target has no USERGROUPS_ENAB in login.defs.
      grep -q "^$USER_NAME:" "$(r /etc/group)" 2>/dev/null && groupdel "${prefix[@]}" "$USER_NAME"
      note "removed user $USER_NAME"
    fi
  else
    note "kept $CONFIG and the data in $DATA (install.sh --uninstall --purge removes them)"
  fi
  exit 0
fi

# ---------------------------------------------------------------- the release

# The release is unpacked (or copied) straight into $APP/releases/.incoming,
# then renamed to its version: one copy of ~3000 files, not two.
releases=$(r "$APP/releases")
incoming=$releases/.incoming
cleanup() { rm -rf "$incoming"; }
trap cleanup EXIT
mkdir -p "$releases"
rm -rf "$incoming"
if [[ -z $FROM ]]; then
  FROM=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi
if [[ -d $FROM ]]; then
  cp -R "$FROM" "$incoming"
elif [[ -f $FROM ]]; then
  mkdir -p "$incoming"
  tar -xzf "$FROM" -C "$incoming" --strip-components=1 --no-same-owner || die "cannot unpack $FROM"
else
  die "--from $FROM: no such file or directory"
fi
for f in release.json dist/cli/main.js node_modules systemd/fleetkv.service; do
  [[ -e $incoming/$f ]] || die "$FROM is not a fleetkv release (no $f): build one with npm run package"
done


if [[ -z $NODE_BIN ]]; then NODE_BIN=$(command -v node) || die "node not found: install Node.js >= 20.19, or pass --node PATH"; fi
[[ $NODE_BIN == /* ]] || NODE_BIN=$(cd "$(dirname "$NODE_BIN")" && pwd)/$(basename "$NODE_BIN")
# One node run: check its version, read the release's.
VERSION=$("$NODE_BIN" -e '
  const [a, b] = process.versions.node.split(".").map(Number);
  if (a < 20 || (a === 20 && b < 19)) { console.error(`install.sh: ${process.execPath} is Node.js ${process.version}; fleetkv needs >= 20.19`); process.exit(1); }
  console.log(require(process.argv[1]).version);
' "$incoming/release.json") || exit 1
[[ $VERSION =~ ^[A-Za-z0-9._+-]+$ ]] || die "bad version in release.json"

echo "Installing fleetkv $VERSION into ${ROOT}"
ensure_user

# The app: releases/<version>, switched to atomically through the `current`
# symlink; `previous` points at the release it replaced (rollback: docs/operating.md).
# Owned by whoever runs this (root): the service user may read, not change it.
chmod 0755 "$(r "$APP")" "$releases"
chmod -R u=rwX,go=rX "$incoming"
chmod 0755 "$incoming/dist/cli/main.js"
rm -rf "$releases/$VERSION"
mv "$incoming" "$releases/$VERSION"
old=$(readlink "$(r "$APP/current")" 2>/dev/null || true)
if [[ -n $old && $old != "releases/$VERSION" ]]; then
  ln -sfn "$old" "$(r "$APP/previous")"
  note "upgrading from ${old#releases/}"
fi
ln -sfn "releases/$VERSION" "$(r "$APP/current.new")"
mv -T "$(r "$APP/current.new")" "$(r "$APP/current")"
# Keep only the current and the previous release.
prev=$(readlink "$(r "$APP/previous")" 2>/dev/null || true)
for d in "$releases"/*; do
  [[ releases/$(basename "$d") == "releases/$VERSION" || releases/$(basename "$d") == "$prev" ]] || rm -rf "$d"
done
note "app in $APP/current -> releases/$VERSION"

# The CLI for operators.
mkdir -p "$(dirname "$(r "$WRAPPER")")"
printf '#!/bin/sh\nexec %s %s/current/dist/cli/main.js "$@"\n' "$NODE_BIN" "$APP" >"$(r "$WRAPPER")"
chmod 0755 "$(r "$WRAPPER")"

# The unit, with ExecStart pointing at this machine's node.
mkdir -p "$(dirname "$(r "$UNIT")")"
sed "s|^ExecStart=/usr/bin/node |ExecStart=$NODE_BIN |" "$releases/$VERSION/systemd/fleetkv.service" >"$(r "$UNIT").tmp"
chmod 0644 "$(r "$UNIT").tmp"
mv "$(r "$UNIT").tmp" "$(r "$UNIT")"
note "unit $UNIT"

# Config and data: created once, never overwritten (upgrades keep them).
mkdir -p "$(r "$ETC")" "$(r "$DATA")"
chmod 0750 "$(r "$ETC")" "$(r "$DATA")"
own root:$USER_NAME "$(r "$ETC")"
own $USER_NAME:$USER_NAME "$(r "$DATA")"
if [[ -f $(r "$CONFIG") ]]; then
  note "kept the existing config $CONFIG"
else
  [[ -n $NODE_ID ]] || NODE_ID=$(hostname -s 2>/dev/null || hostname)
  generated=0
  if [[ -n $SECRET_FILE ]]; then
    secret=$(head -n 1 "$SECRET_FILE") || die "cannot read $SECRET_FILE"
  else
    secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    generated=1
  fi
  umask 027
  FLEETKV_SECRET=$secret "$NODE_BIN" -e '
    const [nodeId, fleetId, peers, dataDir] = process.argv.slice(1);
    const id = nodeId.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 64);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(fleetId)) { console.error(`install.sh: bad --fleet-id ${fleetId}`); process.exit(1); }
    const list = peers.split(",").map((p) => p.trim()).filter(Boolean);
    for (const p of list) if (!/^[^:\s]+:\d{1,5}$/.test(p)) { console.error(`install.sh: peer ${p} is not host:port`); process.exit(1); }
    const secret = process.env.FLEETKV_SECRET;
    if (secret.length < 16) { console.error("install.sh: the fleet secret must be at least 16 characters"); process.exit(1); }
    const config = { nodeId: id, fleetId, dataDir, fleetSecret: secret, peers: list, log: { fsync: "batch" } };
    process.stdout.write(JSON.stringify(config, null, 2) + "\n");
  ' "$NODE_ID" "$FLEET_ID" "$PEERS" "$DATA" >"$(r "$CONFIG").tmp" || { rm -f "$(r "$CONFIG").tmp"; die "cannot write the config"; }
  chmod 0640 "$(r "$CONFIG").tmp"
  own root:$USER_NAME "$(r "$CONFIG").tmp"
  mv "$(r "$CONFIG").tmp" "$(r "$CONFIG")"
  note "wrote $CONFIG (node id $(grep -o '"nodeId": "[^"]*"' "$(r "$CONFIG")" | cut -d'"' -f4))"
  [[ $generated == 1 ]] && note "generated a new fleet secret: give the other robots the same one (fleetSecret in $CONFIG, or install.sh --fleet-secret-file)"
fi

# Enable, and start or restart (an upgrade restarts onto the new release).
if [[ $LIVE == 1 ]]; then
  systemctl daemon-reload
  systemctl enable fleetkv.service >/dev/null 2>&1
  if [[ $START == 1 ]]; then
    systemctl restart fleetkv.service || { journalctl -u fleetkv -n 30 --no-pager >&2 || true; die "fleetkv did not start (see above)"; }
    note "service started"
  fi
else
  systemctl_ enable fleetkv.service >/dev/null 2>&1 || note "could not enable the unit (no systemctl?)"
  note "enabled fleetkv.service (no running systemd here: it starts on the next boot)"
fi

cat <<EOF

fleetkv $VERSION is installed. Check it with:
  systemctl status fleetkv           # active (running), with its status line
  journalctl -u fleetkv -f           # its log
  fleetkv status                     # node, peers, lag, log size
  mosquitto_sub -t 'fleet/#' -v      # every write, live
Config: $CONFIG (restart after editing: systemctl restart fleetkv)
EOF
