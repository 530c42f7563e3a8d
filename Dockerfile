# syntax=docker/dockerfile:1
# Image of the financial RAG service: one image for web (uvicorn workers under gunicorn), Celery
# worker and beat, and the one-shot migrate command. No secret is baked in: settings come from the
# environment at run time.

# --- builder: compile wheels into a virtualenv that the runtime stage copies whole ----------------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY requirements.txt /tmp/requirements.txt
# The CPU wheel of torch first: the plain PyPI wheel drags in gigabytes of CUDA libraries, and
# torch==2.13.0 in requirements.txt is then already satisfied by 2.13.0+cpu.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install -r /tmp/requirements.txt

# --- front end from npm (package-lock.json): htmx, Chart.js, marked, DOMPurify, pdf.js ---
FROM node:20-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# --- runtime --------------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Code stays owned by root, so the app user can read but not rewrite it.
COPY . /app
# Only the built files the settings serve (STATICFILES_DIRS reads node_modules/<package>/<dir>).
COPY --from=frontend /build/node_modules/htmx.org/dist /app/node_modules/htmx.org/dist
COPY --from=frontend /build/node_modules/chart.js/dist /app/node_modules/chart.js/dist
COPY --from=frontend /build/node_modules/marked/lib /app/node_modules/marked/lib
COPY --from=frontend /build/node_modules/dompurify/dist /app/node_modules/dompurify/dist
COPY --from=frontend /build/node_modules/pdfjs-dist/build /app/node_modules/pdfjs-dist/build
COPY --from=frontend /build/node_modules/pdfjs-dist/standard_fonts /app/node_modules/pdfjs-dist/standard_fonts

# Static files are collected at build time so whitenoise serves them; the values given here exist
# only for this one command (production settings refuse to load without them) and are not kept.
RUN SECRET_KEY=collectstatic-only \
    DATABASE_URL=postgres://build:build@127.0.0.1:5432/build \
    REDIS_URL=redis://127.0.0.1:6379/0 \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/.data/media /app/.data/backups /app/logs /tmp/prometheus \
    && chown -R app:app /app/.data /app/logs /tmp/prometheus

USER app:app
EXPOSE 8000

# Migrations run as their own command (compose "migrate" service, k8s Job), never at start-up,
# so several replicas starting at once do not race on the schema.
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.asgi:application"]
