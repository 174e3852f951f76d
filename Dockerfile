# sim_platform image: the ETL by default, and every Dagster service of docker-compose.yml.
#
#   docker build -t sim-platform .
#   docker run -v $(pwd)/data:/app/data -v $(pwd)/output:/app/output sim-platform
#
# Installs are locked: every Python package comes from requirements/ (pinned by `bash scripts/lock.sh`,
# each file checked against its hash), never from a fresh resolution of pyproject.toml's ranges.
# Stage 1 builds the wheel with the locked build backend; stage 2 first fails if the locks no longer
# match pyproject.toml, installs the lock in its own layer (rebuilt only when requirements/ changes),
# then the wheel without dependencies. --build-arg EXTRAS=k8s picks requirements/k8s.lock.txt (for
# deploy/k8s) instead of requirements/base.lock.txt.
# sim_platform_tests/deploy/test_container_recipe.py replays exactly these steps in a fresh virtual
# environment, since no Docker engine runs where the tests do.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY requirements/build.lock.txt ./requirements/
RUN python -m pip install --no-cache-dir --require-hashes -r requirements/build.lock.txt
COPY pyproject.toml README.md ./
COPY sim_platform ./sim_platform
RUN python -m pip wheel --no-deps --no-build-isolation --no-cache-dir --wheel-dir /dist .

FROM python:3.11.11-slim-bookworm
# the lock to install: "" (base) or the name of an extra that has one (k8s)
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/app/dagster_home
WORKDIR /app
COPY pyproject.toml scripts/lock.py /tmp/build/
COPY requirements/ /tmp/build/requirements/
RUN python /tmp/build/lock.py check --pyproject /tmp/build/pyproject.toml --lock-dir /tmp/build/requirements \
 && python -m pip install --require-hashes -r "/tmp/build/requirements/${EXTRAS:-base}.lock.txt"
COPY --from=build /dist/ /tmp/dist/
RUN python -m pip install --no-deps /tmp/dist/*.whl \
 && rm -rf /tmp/dist /tmp/build \
 && useradd --create-home --uid 10001 --user-group app \
 && mkdir -p /app/data /app/output /app/dagster_home \
 && chown -R app:app /app
COPY --chown=app:app workspace.yaml ./
USER app
VOLUME ["/app/data", "/app/output"]
CMD ["sim-platform", "etl", "--input", "data", "--output", "output"]
