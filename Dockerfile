# starttls-relay image: compiled with tsc, production dependencies only, run as a numeric non-root
# user on a read-only root file system (stateDir and certificates live on mounts).
# Build: docker build -t starttls-relay .   (or: buildah bud; scripts/container-check.sh does that)
# Pin the base by digest for reproducible builds: --build-arg NODE_IMAGE=node:22-bookworm-slim@sha256:…
ARG NODE_IMAGE=docker.io/library/node:22-bookworm-slim

# ---- build: npm ci, tsc, then drop the dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM ${NODE_IMAGE}
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="starttls-relay" \
      org.opencontainers.image.description="Opportunistic-TLS SMTP relay proxy: modern TLS on every hop, live reply mirroring" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production

# A numeric uid/gid (10001) so that Kubernetes' runAsNonRoot can check it without /etc/passwd.
# The application stays owned by root: the relay cannot change its own code. It writes only to
# stateDir (/var/lib/starttls-relay: mount a volume or tmpfs there when the root FS is read-only).
RUN groupadd --system --gid 10001 starttls-relay \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin starttls-relay \
 && mkdir -p /etc/starttls-relay /var/lib/starttls-relay \
 && chown 10001:10001 /var/lib/starttls-relay \
 && chmod 0700 /var/lib/starttls-relay
WORKDIR /opt/starttls-relay
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist

# The image's default config: all listeners on unprivileged ports (map 25 → 2525), metrics on all
# interfaces for the HEALTHCHECK and a scraper, relaying for loopback clients only (never an open
# relay). Mount your own file over it (or at another path and pass --config). Checked at build time.
RUN printf '%s\n' \
      '# starttls-relay image default: replace it with your own config (docs/deploy.md).' \
      'stateDir: /var/lib/starttls-relay' \
      'listeners:' \
      '  - { name: mta, mode: mta, host: 0.0.0.0, port: 2525 }' \
      'relay:' \
      "  allowedNetworks: [127.0.0.0/8, '::1/128']" \
      'metrics: { host: 0.0.0.0, port: 9464 }' \
      > /etc/starttls-relay/config.yaml \
 && node dist/main.js check-config --config /etc/starttls-relay/config.yaml

# SMTP: mta 2525 (→ 25), submission 5870 (→ 587), submissions 4650 (→ 465); metrics 9464.
# The default config serves 2525 and 9464; the other two are the ports deploy/kubernetes uses.
EXPOSE 2525 5870 4650 9464
USER 10001:10001
# Liveness through the metrics listener; slim images have no curl, so node fetches it.
# Kubernetes ignores HEALTHCHECK and uses the Deployment's probes instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The relay is PID 1 and handles SIGTERM itself (stops listening, drains, exits 0).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/starttls-relay/dist/main.js"]
CMD ["--config", "/etc/starttls-relay/config.yaml"]
