# One image for the docker-compose demo: the spanstat sidecar, the demo app (under the preload),
# the database seed, the load loop and the example alert webhook all run from it.
#
#   docker compose up --build
#
# Dev dependencies stay in: the demo app uses express and ioredis, which are devDependencies of
# spanstat (an app brings its own). For the sidecar alone, `npm ci --omit=dev` after the build is enough.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=development \
    NPM_CONFIG_UPDATE_NOTIFIER=false

COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY tsconfig.json ./
COPY src ./src
RUN npm run build

COPY config ./config
COPY examples ./examples

# The CLI sets its V8 heap flags itself (src/cli/v8-flags.ts: young generation 2 × 1 MiB, old
# generation grows 1.5× per GC; ~135 MB RSS instead of ~280 under full ingest). Override with
# SPANSTAT_V8_FLAGS (empty = V8's defaults) or node flags such as --max-old-space-size.
# OTLP/HTTP receiver, API + report page + /metrics.
EXPOSE 4317 4318 9464
CMD ["node", "dist/cli/main.js", "sidecar"]
