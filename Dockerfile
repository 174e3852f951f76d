# sim_platform image: the ETL by default, and every Dagster service of docker-compose.yml.
#
#   docker build -t sim-platform .
#   docker run -v $(pwd)/data:/app/data -v $(pwd)/output:/app/output sim-platform
#
# Stage 1 builds the wheel; stage 2 installs the dependencies declared in pyproject.toml in their
# own layer (rebuilt only when pyproject.toml changes), then the wheel without dependencies.
# sim_platform_tests/deploy/test_container_recipe.py replays exactly these steps in a fresh virtual
# environment, since no Docker engine runs where the tests do.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sim_platform ./sim_platform
RUN python -m pip wheel --no-deps --no-cache-dir --wheel-dir /dist .

FROM python:3.11.11-slim-bookworm
# optional extras of pyproject.toml, e.g. --build-arg EXTRAS=k8s for deploy/k8s
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/app/dagster_home
WORKDIR /app
COPY pyproject.toml scripts/requirements_from_pyproject.py /tmp/build/
RUN python /tmp/build/requirements_from_pyproject.py /tmp/build/pyproject.toml "$EXTRAS" > /tmp/build/requirements.txt \
 && python -m pip install -r /tmp/build/requirements.txt
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
