"""The RQ implementation of lab's scenarios, as the book's rq/main.py does it: enqueue the calls, then poll each
job until its result is there (RQ has no blocking get). The book's loop spins (`while job.result is None: pass`);
here each poll sleeps LAB_RQ_POLL_MS (default 5 ms) so the driver does not take a core from the workers, and the
interval and the number of polls go into the record: polling costs a Redis round trip per poll, and up to one
interval of latency per job. Jobs are pickled between this driver and RQ's own Python workers (RQ's default
serializer); lab's runtime never reads them.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))

import redis  # noqa: E402
import rq  # noqa: E402

import labpeer  # noqa: E402
from currency import get_rate  # noqa: E402
from tasks import echo, merge, sort  # noqa: E402

TIMEOUT = labpeer.timeout_s()
POLL_S = float(os.environ.get('LAB_RQ_POLL_MS', '5')) / 1000
INFO = labpeer.versions(rq=rq.__version__, redis_py=redis.__version__, serializer='pickle (RQ default)', poll_ms=POLL_S * 1000)

conn = redis.Redis.from_url(labpeer.env('LAB_BROKER_URL'))
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


def info():
    return dict(INFO, polls=polls)


def run_echo(mode, p):
    clock = labpeer.Clock()
    job = queue.enqueue(echo, p['message'])
    value, _ = wait(job, clock.t0)
    clock.mark('round-trip')
    job.delete()
    labpeer.emit(value, clock, info=info())


def run_currency(mode, p):
    url = labpeer.pairs_template(p)
    clock = labpeer.Clock()
    sent = time.perf_counter()
    jobs = [queue.enqueue(get_rate, pair, url) for pair in p['pairs']]
    rates, latencies = [], []
    for job in jobs:
        (pair, rate), ms = wait(job, sent)
        rates.append([pair, rate])
        latencies.append(ms)
        job.delete()
    clock.mark('total')
    labpeer.emit(rates, clock, latencies, info())


def run_mergesort(mode, p):
    sequence = labpeer.shuffled_range(p['size'], p['seed'])
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
        for job in jobs:
            job.delete()
        result = partials[0]
        for partial in partials[1:]:
            result = merge(result, partial)
        clock.mark('merge')
    labpeer.emit(result, clock, info=info())


if __name__ == '__main__':
    scenario, mode = sys.argv[1], sys.argv[2]
    {'echo': run_echo, 'currency': run_currency, 'mergesort': run_mergesort}[scenario](mode, labpeer.params())
