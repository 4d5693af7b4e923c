"""The application service: how every entry point (HTTP, CLI, demo data, bench, tests) runs a
command. Free of Flask and Celery: callers pass the metadata and a waker in."""
