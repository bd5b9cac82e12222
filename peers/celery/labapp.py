"""The Celery app of the chapter's programs, pointed at the lab: broker and backend from the environment (lab sets
LAB_BROKER_URL / LAB_BACKEND_URL for its peers; the book wrote them into the source as amqp://HOST1 and
redis://HOST2). JSON only, as lab's runtime speaks it. `celery -A labapp worker` serves the chapter's three task
modules under the names lab's workers use, so lab and Celery workers serve each other's clients.
"""
import os

from celery import Celery

app = Celery(
    'labapp',
    broker=os.environ.get('LAB_BROKER_URL', 'amqp://HOST1'),
    backend=os.environ.get('LAB_BACKEND_URL', 'redis://HOST2'),
    include=['echo', 'currency', 'mergesort'],
)
app.conf.update(
    task_serializer='json',
    result_serializer='json',
    accept_content=['json'],
    task_default_queue=os.environ.get('LAB_QUEUE', 'celery'),
    result_expires=int(os.environ.get('LAB_RESULT_EXPIRES', '3600')),
    worker_hijack_root_logger=True,
)
