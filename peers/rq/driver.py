"""The RQ implementation of lab's scenarios, as the book's rq/main.py does it: enqueue the calls, then poll each
job until its result is there (RQ has no blocking get). The book's loop spins (`while job.result is None: pass`);
here each poll sleeps LAB_RQ_POLL_MS (default 5 ms) so the driver does not take a core from the workers, and the
interval and the number of polls go into the record: polling costs a Redis round trip per poll, and up to one
interval of latency per job. Jobs are pickled between this driver and RQ's own Python workers (RQ's default
serializer); lab's runtime never reads them.

lab runs it as a long-lived driver (`python3 driver.py --serve`; labpeer.main has the protocol). The Redis URL is
RQ_REDIS_URL (as the `rq worker` command reads it), the queue LAB_QUEUE. Modes: echo — distributed (params.tasks > 1:
that many jobs at once, the fan-out); currency — distributed; mergesort — local, distributed. --cleanup deletes the
run's queue.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))

import redis  # noqa: E402
import rq  # noqa: E402

try:
    from rq.results import Result  # RQ ≥ 1.12
except ImportError:  # pragma: no cover
    Result = None

import labpeer  # noqa: E402
from currency import get_rate  # noqa: E402
from tasks import echo, merge, sort  # noqa: E402

TIMEOUT = labpeer.timeout_s()
POLL_S = float(os.environ.get('LAB_RQ_POLL_MS', '5')) / 1000
INFO = labpeer.versions(rq=rq.__version__, redis_py=redis.__version__, serializer='pickle (RQ default)', poll_ms=POLL_S * 1000)

conn = redis.Redis.from_url(os.environ.get('RQ_REDIS_URL') or labpeer.env('LAB_BROKER_URL'))
queue = rq.Queue(os.environ.get('LAB_QUEUE', 'default'), connection=conn)
polls = 0


def wait(job, started):
    """The book's polling loop, with a sleep and a deadline."""
    global polls
    deadline = time.time() + TIMEOUT
    while job.result is None:
        polls += 1
        if job.is_failed:
            raise SystemExit(f'job {job.id} failed: {job.exc_info}')
        if time.time() > deadline:
            raise SystemExit(f'job {job.id} gave no result within {TIMEOUT} s')
        time.sleep(POLL_S)
    return job.result, (time.perf_counter() - started) * 1000


def forget(jobs):
    """After the clock: the jobs and their results (RQ 1.12+ keeps results in a stream of their own) go."""
    for job in jobs:
        job.delete()
        if Result is not None:
            Result.delete_all(job)


def info():
    return dict(INFO, polls=polls)


def run_echo(mode, p):
    global polls
    polls = 0
    n = int(p.get('tasks', 1))
    clock = labpeer.Clock()
    if n == 1:
        job = queue.enqueue(echo, p['message'])
        value, _ = wait(job, clock.t0)
        clock.mark('round-trip')
        forget([job])
    else:
        jobs = [queue.enqueue(echo, p['message']) for _ in range(n)]
        clock.mark('publish')
        value = [wait(job, clock.t0)[0] for job in jobs]
        clock.mark('wait')
        forget(jobs)
    labpeer.emit(value, clock, info=info())


def run_currency(mode, p):
    global polls
    polls = 0
    url = labpeer.pairs_template(p)
    clock = labpeer.Clock()
    sent = time.perf_counter()
    jobs = [queue.enqueue(get_rate, pair, url) for pair in p['pairs']]
    rates, latencies = [], []
    for job in jobs:
        (pair, rate), ms = wait(job, sent)
        rates.append([pair, rate])
        latencies.append(ms)
    clock.mark('total')
    forget(jobs)
    labpeer.emit(rates, clock, latencies, info())


def run_mergesort(mode, p):
    global polls
    polls = 0
    sequence = list(labpeer.sequence(p['size'], p['seed']))
    clock = labpeer.Clock()
    if mode == 'local':
        result = sort(sequence)
        clock.mark('sort')
    else:
        subseqs = labpeer.split(sequence, p['n'])
        clock.mark('split')
        jobs = [queue.enqueue(sort, seq) for seq in subseqs]
        clock.mark('publish')
        partials = [wait(job, clock.t0)[0] for job in jobs]
        clock.mark('wait')
        result = partials[0]
        for partial in partials[1:]:
            result = merge(result, partial)
        clock.mark('merge')
        forget(jobs)
    labpeer.emit(result, clock, info=info())


def cleanup():
    """After the workers stopped: the run's queue, and the workers' keys (RQ lets a stopped worker's key expire in 60 s)."""
    queue.delete(delete_jobs=True)
    conn.delete(f'rq:clean_registries:{queue.name}')
    for key in conn.scan_iter(match='rq:worker:*'):
        if conn.type(key) == b'hash' and conn.hget(key, 'queues') == queue.name.encode():
            conn.delete(key)


if __name__ == '__main__':
    labpeer.main({'echo': run_echo, 'currency': run_currency, 'mergesort': run_mergesort}, INFO, cleanup=cleanup)
