# Edge Mining, Home Assistant add-on image.
# The Supervisor passes BUILD_FROM (from build.yaml), BUILD_ARCH and BUILD_VERSION; the defaults
# below let `docker build .` produce the amd64 image by hand.
ARG BUILD_FROM=ghcr.io/home-assistant/amd64-base-python:3.13-alpine3.23
FROM ${BUILD_FROM}

ARG BUILD_ARCH=amd64
ARG BUILD_VERSION=0.1.0

# The package and every dependency, pinned (pyproject.toml pins the direct ones,
# requirements-addon.txt the whole tree), installed at build time: never at run time.
WORKDIR /usr/src/edge-mining
COPY pyproject.toml README.md requirements-addon.txt ./
COPY edge_mining ./edge_mining
RUN pip install --no-cache-dir --constraint requirements-addon.txt . \
    && rm -rf /usr/src/edge-mining

COPY run.sh /run.sh
RUN chmod a+x /run.sh

WORKDIR /data

LABEL \
    io.hass.name="Edge Mining" \
    io.hass.description="Surplus solar energy into bitcoin mining and heat" \
    io.hass.type="addon" \
    io.hass.version="${BUILD_VERSION}" \
    io.hass.arch="${BUILD_ARCH}"

CMD ["/run.sh"]
