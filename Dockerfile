# netreach: slim, non-root; by default migrates the database, then serves the API.
# The wheel carries the Alembic migrations (service/_migrations). The same image runs the
# snapshotter (`netreach capture`) and the migration Job of deploy/.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY migrations ./migrations
RUN python -m venv /opt/netreach \
 && /opt/netreach/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/netreach/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/netreach/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NETREACH_HOST=0.0.0.0 \
    NETREACH_PORT=8000 \
    NETREACH_DATABASE_URL=sqlite:////data/netreach.db
# A fixed numeric user and group (10001), so that Kubernetes' runAsNonRoot can verify the
# image's user and deploy/ can name the same ids.
RUN groupadd --system --gid 10001 netreach \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --create-home netreach
COPY --from=build /opt/netreach /opt/netreach
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
# `serve` refuses a non-loopback address until a token exists: create one first with
# `docker run --rm -v netreach-data:/data netreach netreach token create admin --scope admin`
# (or pass NETREACH_INSECURE=true, only for throwaway environments).
CMD ["sh", "-c", "netreach db upgrade && exec netreach serve"]
