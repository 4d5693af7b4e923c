FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --no-create-home --uid 10001 tally
WORKDIR /app
# The code and the installed packages belong to root: the runtime user can read, not change.
COPY pyproject.toml README.md ./
COPY api ./api
COPY cli ./cli
COPY workers ./workers
COPY readmodels ./readmodels
COPY domain ./domain
COPY migrations ./migrations
COPY bench ./bench
COPY service ./service
RUN pip install . && chmod -R go-w /app
USER tally
EXPOSE 8000
CMD ["tally", "serve", "--bind", "0.0.0.0", "--port", "8000", "--workers", "4"]
