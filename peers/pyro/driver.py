"""The Pyro implementation of lab's scenarios, as the book's pyro/main.py does it: proxies by name from the name
server, sync calls one after another, then async calls (4.82 spells the book's `Pyro4.async(proxy)` as
`proxy._pyroAsync()`: `async` is a keyword since Python 3.7). With several worker processes the client is its own
"mini scheduler": the calls go round-robin over the names registered under LAB_PYRO_PREFIX.

lab runs it as a long-lived driver (`python3 driver.py --serve`; labpeer.main has the protocol): the proxies are
looked up and connected once per mode, before the clock starts, as a long-running client keeps them (after a failed
sample they are looked up again). Every connection carries the lab's HMAC key (PYRO_HMAC_KEY); a key that is not the
name server's or the workers' is said in one line. Modes: currency and echo — sync, async (echo's params.tasks > 1:
that many calls, round-robin over the workers — one after another for sync, all at once for async).
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
_proxies = {}


def proxies(mode):
    """The workers' proxies for one mode (async ones are switched to async calls), connected before the clock."""
    if mode in _proxies:
        return _proxies[mode]
    ns_host, ns_port = os.environ['LAB_PYRO_NS_HOST'], int(os.environ['LAB_PYRO_NS_PORT'])
    ns = Pyro4.locateNS(host=ns_host, port=ns_port, hmac_key=KEY)
    names = sorted(ns.list(prefix=os.environ['LAB_PYRO_PREFIX']))
    if not names:
        raise SystemExit(f"no Pyro workers registered under {os.environ['LAB_PYRO_PREFIX']}")
    out = []
    for name in names:
        p = Pyro4.Proxy(f'PYRONAME:{name}@{ns_host}:{ns_port}')
        p._pyroHmacKey = KEY
        p._pyroBind()  # connect before the clock starts, as a long-running client would be
        if mode == 'async':
            p._pyroAsync()  # 4.82 switches the proxy itself to async calls (the book's Pyro4.async made a new one)
        out.append(p)
    _proxies[mode] = out
    return out


def forget():
    """After a failed sample: drop the proxies (their connections may be broken); the next sample looks them up again."""
    for ps in _proxies.values():
        for p in ps:
            try:
                p._pyroRelease()
            except Exception:  # noqa: BLE001 — best effort
                pass
    _proxies.clear()


def run_currency(mode, p):
    url = labpeer.pairs_template(p)
    workers = proxies(mode)
    clock = labpeer.Clock()
    latencies = []
    rates = []
    if mode == 'sync':
        for pair, worker in zip(p['pairs'], itertools.cycle(workers)):
            t = time.perf_counter()
            rates.append(list(worker.get_rate(pair, url)))
            latencies.append((time.perf_counter() - t) * 1000)
    else:
        sent = time.perf_counter()
        futures = [w.get_rate(pair, url) for pair, w in zip(p['pairs'], itertools.cycle(workers))]
        for f in futures:
            rates.append(list(f.value))
            latencies.append((time.perf_counter() - sent) * 1000)
    clock.mark('total')
    labpeer.emit(rates, clock, latencies, INFO)


def run_echo(mode, p):
    n = int(p.get('tasks', 1))
    workers = proxies(mode)
    calls = list(zip(range(n), itertools.cycle(workers)))
    clock = labpeer.Clock()
    if mode == 'sync':
        values = [w.echo(p['message']) for _, w in calls]
    else:
        futures = [w.echo(p['message']) for _, w in calls]
        values = [f.value for f in futures]
    clock.mark('round-trip' if n == 1 else 'total')
    labpeer.emit(values[0] if n == 1 else values, clock, info=INFO)


def explain(e):
    """Pyro's errors in one line; an HMAC mismatch said as such."""
    if not isinstance(e, (Pyro4.errors.SecurityError, Pyro4.errors.CommunicationError, Pyro4.errors.NamingError)):
        return labpeer.describe(e)
    chain, cause = [], e
    while cause is not None:
        chain.append(str(cause))
        cause = cause.__cause__
    if any('hmac' in c for c in chain):
        return 'Pyro refused the connection: message hmac mismatch (this HMAC key is not the name server\'s or the workers\')'
    return f'Pyro: {" <- ".join(chain)}'


if __name__ == '__main__':
    labpeer.main({'echo': run_echo, 'currency': run_currency}, INFO, explain=explain, reset=forget)
