# The one image of locust-llm: the mock, the Locust master and the workers all run it.
#
#   docker build -t locust-llm .
#   docker run --rm -p 8089:8089 -e OPENAI_API_KEY locust-llm \
#       locust -f /app/locustfiles/batch_vs_stream.py --host https://api.example.com/v1
#
# Entry points: `locust-llm` (demo, run, mock, report) and `locust` with the harness installed.
# The API key is read from OPENAI_API_KEY in each container's environment; it is never baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the project and its dependencies (gevent, geventhttpclient, psutil and friends all
# publish manylinux wheels, so no compiler is needed), then drop the sources.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY harness ./harness
RUN pip install . \
    && rm -rf /src

# Locustfiles users copy and adapt; mount your own over /app/locustfiles.
COPY locustfiles /app/locustfiles

# A numeric non-root user, so Kubernetes' runAsNonRoot can verify it.
RUN useradd --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin locust \
    && chown -R 10001:10001 /app
USER 10001:10001
WORKDIR /app

# 8089 Locust web UI, 5557 master <-> workers, 9646 Prometheus /metrics (master), 8000 the mock
EXPOSE 8089 5557 9646 8000

# Without a command: the demo (embedded mock, a short batch-vs-streaming run, the table).
CMD ["locust-llm", "demo"]
