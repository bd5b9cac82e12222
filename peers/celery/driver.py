"""The Celery implementation of lab's scenarios, as the chapter's main programs do them (currency.py's __main__,
main.py). lab runs it as a long-lived driver (`python3 driver.py --serve`, one JSON line per sample; labpeer.main
has the protocol); `python3 driver.py <scenario> <mode>` runs one sample by hand.

Modes: echo — distributed (params.tasks > 1: that many echoes at once, as a group — the fan-out); currency —
sequential, concurrent (threads, the chapter 3 way), distributed; mergesort — local (the book's sort on the master),
distributed (a group of sort tasks, merged on the master). The tasks go to LAB_QUEUE (a queue of the run's own, so
lab's workers on the same broker never take them); --cleanup deletes that queue and its exchange after the run.
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))

import celery  # noqa: E402
from celery import group  # noqa: E402

import labpeer  # noqa: E402
from currency import get_rate  # noqa: E402
from labapp import app  # noqa: E402
from echo import echo  # noqa: E402
from mergesort import merge, sort  # noqa: E402

TIMEOUT = labpeer.timeout_s()
INFO = labpeer.versions(celery=celery.__version__)


def run_echo(mode, p):
    n = int(p.get('tasks', 1))
    clock = labpeer.Clock()
    if n == 1:
        r = echo.delay(p['message'])
        value = r.get(timeout=TIMEOUT)
        clock.mark('round-trip')
        r.forget()
    else:
        pending = group(echo.s(p['message']) for _ in range(n))()
        clock.mark('publish')
        value = pending.get(timeout=TIMEOUT)
        clock.mark('wait')
        pending.forget()
    labpeer.emit(value, clock, info=INFO)


def run_currency(mode, p):
    url = labpeer.pairs_template(p)
    pairs = p['pairs']
    clock = labpeer.Clock()
    latencies = []
    if mode == 'sequential':
        rates = []
        for pair in pairs:
            t = time.perf_counter()
            rates.append(labpeer.fetch_rate(pair, url))
            latencies.append((time.perf_counter() - t) * 1000)
    elif mode == 'concurrent':
        def timed(pair):
            t = time.perf_counter()
            rate = labpeer.fetch_rate(pair, url)
            return rate, (time.perf_counter() - t) * 1000
        with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
            done = list(pool.map(timed, pairs))
        rates = [d[0] for d in done]
        latencies = [d[1] for d in done]
    else:
        sent = time.perf_counter()
        results = [get_rate.delay(pair, url) for pair in pairs]
        rates = []
        for result in results:
            pair, rate = result.get(timeout=TIMEOUT)
            latencies.append((time.perf_counter() - sent) * 1000)
            rates.append((pair, rate))
            result.forget()
    clock.mark('total')
    labpeer.emit([list(r) for r in rates], clock, latencies, INFO)


def run_mergesort(mode, p):
    sequence = list(labpeer.sequence(p['size'], p['seed']))
    clock = labpeer.Clock()
    if mode == 'local':
        result = sort(sequence)
        clock.mark('sort')
    else:
        subseqs = labpeer.split(sequence, p['n'])
        clock.mark('split')
        pending = group(sort.s(seq) for seq in subseqs)()
        clock.mark('publish')
        partials = pending.get(timeout=TIMEOUT)
        clock.mark('wait')
        pending.forget()
        result = partials[0]
        for partial in partials[1:]:
            result = merge(result, partial)
        clock.mark('merge')
    labpeer.emit(result, clock, info=INFO)


def cleanup():
    """The run's queue and its exchange (Celery names the default exchange after the queue), once the workers are gone."""
    name = app.conf.task_default_queue
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_delete(name)
        channel.exchange_delete(name)


if __name__ == '__main__':
    labpeer.main({'echo': run_echo, 'currency': run_currency, 'mergesort': run_mergesort}, INFO, cleanup=cleanup)
