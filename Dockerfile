# syntax=docker/dockerfile:1
# The kvm-clone worker image. Two stages: the build stage compiles ssh2's native crypto
# binding and the TypeScript sources; the runtime stage holds only production dependencies
# and dist/. No SSH key, known_hosts or config is baked in: they are mounted at run time
# (see docker-compose.yml).
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# node-gyp needs python3, make and a C++ compiler for ssh2's crypto binding.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Exactly the lockfile's versions; install scripts run so the binding is built.
RUN npm ci --no-audit --no-fund
# Fail the build rather than ship a worker that relays about 4x slower.
RUN node -e "if (!require('ssh2/lib/protocol/crypto.js').bindingAvailable) { console.error('ssh2 native crypto binding did not build'); process.exit(1); }"
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle-workflows.cjs ./scripts/
COPY src ./src
# tsc, then the workflow bundle the worker loads at start (dist/workflow-bundle.js).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    KVM_CLONE_LOG_FORMAT=json \
    KVM_CLONE_METRICS_ADDRESS=0.0.0.0:9464
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root bin ./bin
RUN ln -s /app/bin/kvm-clone /usr/local/bin/kvm-clone \
 && mkdir -p /etc/kvm-clone /home/node/.kvm-clone \
 && chown node:node /home/node/.kvm-clone
USER node
# Prometheus metrics of the Temporal SDK (KVM_CLONE_METRICS_ADDRESS).
EXPOSE 9464
# The Temporal SDK turns SIGTERM into a graceful worker shutdown; `docker stop` waits for it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["kvm-clone"]
CMD ["-c", "/etc/kvm-clone/config.yaml", "worker"]
