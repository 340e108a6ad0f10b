# One image for the operator, the artifact fetcher and the CLI:
#   operator (default):  node operator/main.ts [flags]
#   artifact fetcher:    node operator/fetcher/main.ts   (an init container the operator injects)
#   kubectl plugin:      kubectl-modelops get | status NAME | ...
# The modelops-proxy sidecar is Rust, with an image of its own
# (operator/proxy/Dockerfile, built by hack/proxy-image.sh).
# Node 24 runs the TypeScript sources directly (type stripping): no build step.
ARG NODE_IMAGE=node:24-slim

# Production dependencies only, installed from the lockfile.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && rm -rf /root/.npm \
 # Type declarations, source maps and docs are not needed at run time.
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete

# The operator as one JavaScript file (hack/build-operator.ts): it starts with
# less memory than the TypeScript sources. esbuild, at the project's locked
# version, is installed beside the app for this stage only.
FROM deps AS bundle
COPY hack/build-operator.ts ./hack/
COPY operator ./operator
RUN mkdir /esbuild && cd /esbuild \
 && npm install --no-save --no-audit --no-fund \
      "esbuild@$(node -p "require('/app/package-lock.json').packages['node_modules/esbuild'].version")" \
 && ln -s /esbuild/node_modules/esbuild /app/node_modules/esbuild \
 && node /app/hack/build-operator.ts /app/dist/operator/main.mjs

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="modelops-operator" \
      org.opencontainers.image.description="Kubernetes operator for ML models: versions, progressive rollouts, drift" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    # Nothing writes to the image at run time, so the root filesystem can be
    # read-only; Node's own temp files go to /tmp (an emptyDir in the chart).
    TMPDIR=/tmp
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY operator ./operator
COPY --from=bundle /app/dist/operator/main.mjs ./dist/operator/main.mjs
RUN ln -s /app/operator/cli/main.ts /usr/local/bin/kubectl-modelops \
 && chmod 0555 /app/operator/cli/main.ts
# A numeric non-root user, so runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node"]
CMD ["--max-semi-space-size=8", "dist/operator/main.mjs"]
