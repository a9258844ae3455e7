"""Running video jobs: one job function, fed by an in-process queue or by Celery workers."""
