# syntax=docker/dockerfile:1
# authgate container image: built on Debian 12 with the same scripts/deps.sh and CMake
# build/install as CI, run on Debian 12 slim with only the runtime libraries.
#   docker build --build-arg AG_GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t authgate:0.1.0 .
# Runs as UID/GID 65532 with no shell needed (exec-form ENTRYPOINT), writes nothing outside
# mounted directories (readOnlyRootFilesystem works; deploy/deployment.yaml mounts /tmp
# as an emptyDir). tests/integration/t_container.sh checks these properties and runs the
# installed binary on a read-only root as that UID.
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
# the dependency layer first: it is rebuilt only when deps.sh changes
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh
COPY . .
# .git is not sent (.dockerignore): the commit --version reports comes in as an argument
ARG AG_GIT_COMMIT=""
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAG_WERROR=ON \
        -DAG_GIT_COMMIT="${AG_GIT_COMMIT}" \
 && cmake --build build -j"$(nproc)" --target authgate \
 && cmake --install build --prefix /usr/local --strip \
 && /usr/local/bin/authgate --version

FROM ${DEBIAN_IMAGE}
# Runtime libraries only: one package per library the binary links (readelf NEEDED).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libuv1 libmbedtls14 libmbedx509-1 libmbedcrypto7 libssl3 libyaml-0-2 libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/authgate /usr/local/bin/authgate
COPY --from=build /usr/local/share/authgate /usr/local/share/authgate
COPY --from=build /usr/local/share/man/man1/authgate.1 /usr/local/share/man/man1/authgate.1
USER 65532:65532
WORKDIR /
EXPOSE 8443 8444 9090
ENTRYPOINT ["/usr/local/bin/authgate"]
CMD ["serve", "--config", "/etc/authgate/config/gateway.json"]
