# Vigil on node:24 (Debian bookworm).
#
# Unlike `npm start` on an offline machine (scripts/setup.sh builds the
# mediasoup worker from source against Debian's libraries), this image uses
# mediasoup's upstream install path: `npm ci` downloads the prebuilt
# mediasoup-worker from GitHub releases, so building it needs network access.
#
#   docker build -t vigil .
#   docker run --rm -p 8080:8080 -p 40000:40000/udp -p 40000:40000/tcp \
#     -v $PWD/my-config.json:/app/config.json -e VIGIL_CONFIG=/app/config.json \
#     -v vigil-data:/app/.vigil vigil
# Set webrtc.announcedAddress in the config to the host's reachable IP. The
# data volume keeps the revocation deny list across container replacement.
FROM node:24-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
COPY protocol/package.json protocol/
COPY gateway/package.json gateway/
COPY server/package.json server/
COPY client-sdk/package.json client-sdk/
COPY loadtest/package.json loadtest/
RUN npm ci --no-audit --no-fund \
 && npm cache clean --force

COPY . .
RUN node client-sdk/build.ts \
 && mkdir -p /app/.vigil && chown node:node /app/.vigil

ENV VIGIL_CONFIG=/app/deploy/docker.config.json
EXPOSE 8080 40000/udp 40000/tcp
USER node
CMD ["node", "server/src/main.ts"]
