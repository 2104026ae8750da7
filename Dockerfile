# syntax=docker/dockerfile:1
#
# One image for every command: proxy (default), worker, migrate, keys, revoke,
# inject-webhook. Override the command with the container's args.
#
# Base: Node 20 on Debian bookworm (glibc). uWebSockets.js ships only prebuilt
# binaries (binaries/uws_linux_<arch>_115.node = Node 20 ABI 115, linked against
# glibc); alpine (musl) or another Node major cannot load them and the proxy
# refuses to run on the JS fallback. Pin the base by digest in your registry.
#
# No Docker engine on the dev machines: scripts/docker-sim.sh performs these
# steps in a temporary directory and starts the result (test/k8s-docker-sim.test.ts).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /build
ENV npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
# Dependencies first: this layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci
# The rest of the context is an allowlist (.dockerignore): sources, tsconfig, configs.
COPY . .
RUN mkdir -p config \
 && npm run build \
 && npm prune --omit=dev \
 && node scripts/check-uws-binding.cjs --prune-others

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# A dedicated non-root uid/gid (the chart's runAsUser); /var/lib/argus is the
# only writable path the sidecar needs (metering spool), so the root filesystem
# can be mounted read-only. Kubernetes mounts an emptyDir over it.
RUN groupadd --system --gid 10001 argus \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin argus \
 && mkdir -p /var/lib/argus/spool \
 && chown -R 10001:10001 /var/lib/argus
COPY --from=build /build/package.json ./package.json
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
COPY --from=build /build/config ./config
COPY --from=build /build/scripts/check-uws-binding.cjs ./scripts/check-uws-binding.cjs
# Fail the build here, not in production, if the native binding cannot load.
RUN node scripts/check-uws-binding.cjs
USER 10001:10001
EXPOSE 8080 9090 8443
# node is PID 1 and receives SIGTERM itself (no npm or shell wrapper):
# the proxy drains in-flight requests, the worker finishes its jobs.
# --single-threaded-gc: V8 marks and sweeps on the JavaScript thread in ~0.5 ms
# steps instead of on helper threads. A sidecar's CPU limit is about its thread
# count, so helper threads only took whole scheduler slices from the proxy
# (5-12 ms stalls per mark-compact; docs/operations.md, "Garbage collection
# and tail latency").
# scripts/docker-sim.sh and bench:peers start the sidecar with these same flags.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--single-threaded-gc", "/app/dist/src/cli.js"]
CMD ["proxy", "--config", "/app/config/argus.yaml"]
