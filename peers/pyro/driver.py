"""The Pyro implementation of lab's scenarios, as the book's pyro/main.py does it: proxies by name from the name
server, sync calls one after another, then async calls (4.82 spells the book's `Pyro4.async(proxy)` as
`proxy._pyroAsync()`: `async` is a keyword since Python 3.7). With several worker processes the client is its own
"mini scheduler": the calls go round-robin over the names registered under LAB_PYRO_PREFIX.

Modes: currency and echo — sync, async.
"""
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))

import Pyro4  # noqa: E402
import Pyro4.errors  # noqa: E402

import labpeer  # noqa: E402

KEY = os.environ['PYRO_HMAC_KEY'].encode()
INFO = labpeer.versions(pyro4=Pyro4.__version__, serializer=Pyro4.config.SERIALIZER)


def proxies():
    ns = Pyro4.locateNS(host=os.environ['LAB_PYRO_NS_HOST'], port=int(os.environ['LAB_PYRO_NS_PORT']), hmac_key=KEY)
    names = sorted(ns.list(prefix=os.environ['LAB_PYRO_PREFIX']))
    if not names:
        raise SystemExit(f"no Pyro workers registered under {os.environ['LAB_PYRO_PREFIX']}")
    out = []
    for name in names:
        p = Pyro4.Proxy(f'PYRONAME:{name}@{os.environ["LAB_PYRO_NS_HOST"]}:{os.environ["LAB_PYRO_NS_PORT"]}')
        p._pyroHmacKey = KEY
        p._pyroBind()  # connect before the clock starts, as a long-running client would be
        out.append(p)
    return out




def run_currency(mode, p):
    url = labpeer.pairs_template(p)
    workers = proxies()
    clock = labpeer.Clock()
    latencies = []
    rates = []
    if mode == 'sync':
        for pair, worker in zip(p['pairs'], itertools.cycle(workers)):
            t = time.perf_counter()
            rates.append(list(worker.get_rate(pair, url)))
            latencies.append((time.perf_counter() - t) * 1000)
    else:
        for w in workers:
            w._pyroAsync()  # 4.82 switches the proxy itself to async calls (the book's Pyro4.async made a new one)
        sent = time.perf_counter()
        futures = [w.get_rate(pair, url) for pair, w in zip(p['pairs'], itertools.cycle(workers))]
        for f in futures:
            rates.append(list(f.value))
            latencies.append((time.perf_counter() - sent) * 1000)
    clock.mark('total')
    labpeer.emit(rates, clock, latencies, INFO)


def run_echo(mode, p):
    worker = proxies()[0]
    clock = labpeer.Clock()
    if mode == 'sync':
        value = worker.echo(p['message'])
    else:
        worker._pyroAsync()
        value = worker.echo(p['message']).value
    clock.mark('round-trip')
    labpeer.emit(value, clock, info=INFO)


if __name__ == '__main__':
    try:
        scenario, mode = sys.argv[1], sys.argv[2]
        {'echo': run_echo, 'currency': run_currency}[scenario](mode, labpeer.params())
    except (Pyro4.errors.SecurityError, Pyro4.errors.CommunicationError, Pyro4.errors.NamingError) as e:
        chain, cause = [], e
        while cause is not None:
            chain.append(str(cause))
            cause = cause.__cause__
        if any('hmac' in c for c in chain):
            raise SystemExit('Pyro refused the connection: message hmac mismatch (this HMAC key is not the name server\'s or the workers\')')
        raise SystemExit(f'Pyro: {" <- ".join(chain)}')
