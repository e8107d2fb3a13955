FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock README.md ./
COPY tasks_service ./tasks_service
COPY workers ./workers
COPY web ./web
# The data dir holds each role's own files (gunicorn's control socket, beat's
# schedule): the unprivileged user the roles run as must be able to write there.
RUN uv sync --locked --no-dev && mkdir -p /var/lib/tasks && chown nobody /var/lib/tasks
ENV PATH="/app/.venv/bin:$PATH"
USER nobody
EXPOSE 8000
CMD ["tasks-service", "web", "--host", "0.0.0.0"]
