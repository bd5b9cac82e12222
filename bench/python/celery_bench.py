"""Python Celery 5.2 side of bench/runtime.ts: the same echo task (test.echo) as lab's, and a client that times it.

    python3 -m celery -A celery_bench worker -Q <queue> -c 2 --loglevel warning   # the worker
    python3 celery_bench.py latency <n> <warmup>                                 # sequential round trips
    python3 celery_bench.py fanout <n>                                           # n tasks at once, all results

Broker, backend and queue come from BENCH_BROKER, BENCH_BACKEND, BENCH_QUEUE. Prints one JSON line.
"""
import json
import os
import sys
import time

from celery import Celery, group

app = Celery('celery_bench', broker=os.environ.get('BENCH_BROKER', 'amqp://guest:guest@127.0.0.1:5672//'),
             backend=os.environ.get('BENCH_BACKEND', 'redis://127.0.0.1:6379/0'))
app.conf.update(
    task_default_queue=os.environ.get('BENCH_QUEUE', 'celery'),
    result_expires=int(os.environ.get('BENCH_RESULT_EXPIRES', '600')),
    task_serializer='json', result_serializer='json', accept_content=['json'],
    worker_enable_remote_control=False, worker_send_task_events=False, task_send_sent_event=False,
)


@app.task(name='test.echo')
def echo(message):
    return message


def latency(n, warmup):
    for _ in range(warmup):
        echo.delay('Python rocks!').get(timeout=30)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        echo.delay('Python rocks!').get(timeout=30)
        samples.append((time.perf_counter() - t0) * 1000)
    return {'samples_ms': samples}


def fanout(n):
    t0 = time.perf_counter()
    g = group(echo.s(i) for i in range(n))()
    sent = time.perf_counter()
    results = g.get(timeout=600)
    done = time.perf_counter()
    assert results == list(range(n)), 'results out of order or missing'
    g.forget()
    return {'n': n, 'total_ms': (done - t0) * 1000, 'send_ms': (sent - t0) * 1000}


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'latency':
        out = latency(int(sys.argv[2]), int(sys.argv[3]))
    else:
        out = fanout(int(sys.argv[2]))
    print(json.dumps(out))
