"""gunicorn settings for the Procfile's web process (``--config python:otodoke.gunicorn_conf``):
an access log on stdout, with link tokens redacted (otodoke/logs.py)."""

accesslog = "-"
logger_class = "otodoke.logs.RedactingGunicornLogger"
