"""Gunicorn settings for Atelier in production: ``gunicorn -c deploy/gunicorn.conf.py``.

Sync workers: a request is a short database transaction, so two to four workers per core
are plenty for a workshop. No MQTT client runs in a worker (each worker would receive
every message): the ingest worker is its own service (atelier-ingest.service).
"""

import multiprocessing
import os

bind = os.environ.get("ATELIER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ATELIER_WORKERS", str(max(2, multiprocessing.cpu_count()))))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
# The application is loaded in each worker after the fork: no database connection is
# ever shared between processes (a forked connection would corrupt the SQLite or
# PostgreSQL session). Keep preload_app False.
preload_app = False
wsgi_app = "app:create_app()"
