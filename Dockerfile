# One image for both processes of the ops dashboard; the command picks which one runs:
#   default                  the dashboard (Streamlit, JSON endpoints, /metrics) on port 8501
#   python -m collector      the collector (samples into SQLite, runs the backups)
# Settings come from the environment at run time (see .env.example); none is baked in.
# BASE_IMAGE: any Debian-based image with Python 3.11 and venv (the tests build on one made
# by mmdebstrap, as no registry is reachable there); default the official one.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# tzdata: TZ=Area/City gives local times in logs; Python also ships its own copy.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ops \
    && useradd --system --uid 10001 --gid ops --home-dir /home/ops --create-home \
       --shell /usr/sbin/nologin ops

WORKDIR /app

# Dependencies in their own layer: rebuilt only when the lock changes. Exact versions
# with hashes (requirements.lock, compiled from requirements.txt), so every build installs
# the same files. In a virtual environment, so Debian's Python (which refuses pip
# installs into itself) serves as well as the official image's.
COPY requirements.txt requirements.lock ./
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
       -r requirements.lock
ENV PATH=/opt/venv/bin:$PATH

# The source, owned by root and read-only for the ops user (.dockerignore keeps out
# .env, data, virtual environments, caches and tests).
COPY . .
# The translations gettext reads, compiled from the catalogs in the source.
RUN python -m ops.i18n.build compile

# MALLOC_ARENA_MAX: the dashboard runs each page run on a thread of its own; with glibc's
# default arenas its memory kept growing, with 2 it levels off (BENCHMARKS.md).
ENV OPS_DATA_DIR=/app/data \
    BACKUP_DIR=/app/backups \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2

# ops.sqlite3 and .download-key live in /app/data, the backups in /app/backups. A named
# volume mounted there starts with this ownership, so the ops user can write to it.
RUN mkdir -p /app/data /app/backups \
    && chown ops:ops /app/data /app/backups \
    && chmod 0750 /app/data /app/backups
VOLUME ["/app/data", "/app/backups"]

USER ops

EXPOSE 8501

# For the dashboard. The collector service overrides it with `python -m ops heartbeat`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

# All interfaces inside the container; docker-compose.yml publishes the port on the
# host's 127.0.0.1 only.
CMD ["streamlit", "run", "streamlit_app.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--client.showErrorDetails", "none"]
