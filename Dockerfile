FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9"
COPY pyproject.toml uv.lock README.md ./
COPY tasks_service ./tasks_service
COPY workers ./workers
COPY web ./web
RUN uv sync --locked --no-dev && mkdir -p /var/lib/tasks
ENV PATH="/app/.venv/bin:$PATH"
USER nobody
EXPOSE 8000
CMD ["tasks-service", "web", "--host", "0.0.0.0"]
