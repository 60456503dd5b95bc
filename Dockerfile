# Edge Mining, Home Assistant app (add-on) image.
# One multi-arch base image (amd64 and arm64): Docker takes the variant of the machine that
# builds it, so a Raspberry Pi builds an arm64 image. The Dockerfile is the single source of
# the build (build.yaml is deprecated since Supervisor 2026.04); `docker build .` works as is.
# tests/test_addon_wheels.py checks that every pin has a musllinux wheel for this Python.
FROM ghcr.io/home-assistant/base-python:3.13-alpine3.24

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
    io.hass.arch="aarch64|amd64"

CMD ["/run.sh"]
