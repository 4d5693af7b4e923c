FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 tally
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY workers ./workers
COPY readmodels ./readmodels
COPY domain ./domain
COPY migrations ./migrations
COPY bench ./bench
RUN pip install . && chown -R tally /app
USER tally
EXPOSE 8000
CMD ["tally", "serve", "--port", "8000", "--workers", "4"]
