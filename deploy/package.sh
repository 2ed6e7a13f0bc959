#!/usr/bin/env bash
# Build the release tarball (`npm run package`, after `npm run build`):
#   $FLEETKV_RELEASE_DIR (default release/)/fleetkv-<version>.tar.gz
# holding fleetkv-<version>/ with dist/, production node_modules only,
# package.json, the systemd unit, deploy/ (install.sh, make-fleet-ca.sh),
# config/ examples, docs/ and release.json. Unpack it anywhere and run
# `node dist/cli/main.js start`, or `sudo deploy/install.sh` from inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${FLEETKV_RELEASE_DIR:-release}
version=$(node -p 'require("./package.json").version')
name=fleetkv-$version

[[ -f dist/cli/main.js ]] || { echo "package: dist/ is missing: run npm run build first" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$name
mkdir -p "$dir"
cp -R dist package.json package-lock.json systemd deploy "$dir"/
rm -f "$dir/dist/.tsbuildinfo"   # the incremental build's state, not part of a release
for d in config docs; do [[ -d $d ]] && cp -R "$d" "$dir"/; done
cp LICENSE* README* "$dir"/ 2>/dev/null || true

# Production dependencies only, from the lockfile; the npm cache serves them
# when it can (CI has just run npm ci). Install scripts stay off: every
# dependency works without them (FACTS.md).
(cd "$dir" && npm ci --omit=dev --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
node -e '
  const [version, commit] = process.argv.slice(1);
  process.stdout.write(JSON.stringify({ name: "fleetkv", version, commit, builtAt: new Date().toISOString(), node: ">=20.19" }, null, 2) + "\n");
' "$version" "$commit" >"$dir/release.json"
chmod 0755 "$dir/dist/cli/main.js" "$dir"/deploy/*.sh

mkdir -p "$out"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
