"""gunicorn settings for the Procfile's web process (``--config python:otodoke.gunicorn_conf``):
an access log on stdout, with link tokens redacted (core/logs.py)."""

accesslog = "-"
logger_class = "core.logs.RedactingGunicornLogger"
