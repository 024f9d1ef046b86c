# ChildPact Messenger: one image for the Procfile's three commands (release, web, worker).
# Build: docker build -t childpact-messenger .   Run: compose.yaml beside this file.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# The dependencies first, so that a code change does not download them again.
COPY pyproject.toml README.md ./
RUN mkdir app bot handlers webhook && touch app/__init__.py bot/__init__.py \
        handlers/__init__.py webhook/__init__.py \
    && pip install '.[sentry]' && pip uninstall --yes childpact-messenger
COPY . .
# Editable: the service reads locales/ and surveys/ beside its code.
RUN pip install --no-deps -e . \
    && pybabel compile --domain messages --directory locales --statistics \
    && pybabel compile --domain admin --directory locales --statistics

FROM python:3.11-slim
# XDG_CACHE_HOME: the safeguarding model, trained when the image is built (about 30 s), so
# that a new container's volume starts with it rather than training at the first start.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 PORT=8000 XDG_CACHE_HOME=/app/var/cache LOG_FORMAT=json
# pg_dump and pg_restore for `childpact backup` and `childpact restore` on PostgreSQL.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin childpact \
    && mkdir -p /app/var && chown childpact /app/var
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
USER childpact
RUN childpact knowledge train
EXPOSE 8000
VOLUME ["/app/var"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4)"]
# The Procfile's web process; compose.yaml runs its release and worker commands too.
CMD ["childpact", "serve", "--web-only", "--host", "0.0.0.0"]
