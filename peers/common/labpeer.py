"""What every Python peer driver shares: the run's parameters, the same fixtures as lab's scenarios (same seed,
same numbers), the lab's quote server, and the one JSON line a driver prints for the harness.

A driver runs in one of three ways (`main()`), always with the lab's URLs in its environment, never on its command
line:
  python3 driver.py <scenario> <mode>   one sample, with LAB_PARAMS (JSON) in the environment: prints one line
  python3 driver.py --serve             what lab runs: a long-lived driver. It prints {"ready": true, "info": {…}}
                                        once its imports are done, then answers each request line on stdin —
                                        {"scenario", "mode", "params"} — with one line on stdout; a sample that
                                        fails is {"error": "…"} and the driver goes on. It ends at end of input.
  python3 driver.py --cleanup           remove what the run left on the broker (the run's queue), after the
                                        workers stopped
A sample's line is {"output", "total_ms", "phases", "latencies_ms", "info"}. The driver times its own work, so
interpreter start-up, imports and connecting are not part of the figure.
"""
import functools
import json
import os
import platform
import sys
import time
import urllib.request


def params():
    return json.loads(os.environ.get('LAB_PARAMS', '{}'))


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise SystemExit(f'{name} is not set (lab sets it for its peers)')
    return value


def timeout_s():
    return float(os.environ.get('LAB_TIMEOUT_S', '120'))


def shuffled_range(size, seed):
    """lab's shuffledRange: mulberry32 + Fisher-Yates, bit for bit (32-bit arithmetic mod 2**32)."""
    a = list(range(size))
    s = seed & 0xFFFFFFFF
    m = 0xFFFFFFFF

    def rand():
        nonlocal s
        s = (s + 0x6D2B79F5) & m
        t = s
        t = ((t ^ (t >> 15)) * (t | 1)) & m
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & m)) & m)) & m
        return ((t ^ (t >> 14)) & m) / 4294967296

    for i in range(size - 1, 0, -1):
        j = int(rand() * (i + 1))
        a[i], a[j] = a[j], a[i]
    return a


@functools.lru_cache(maxsize=1)
def sequence(size, seed):
    """The mergesort fixture, made once per (size, seed) by a long-lived driver (a tuple: nothing may change it)."""
    return tuple(shuffled_range(size, seed))


def split(sequence, n):
    """The book's split: n chunks of len//n, the last one taking the remainder."""
    size = len(sequence) // n
    chunks = [sequence[i * size:(i + 1) * size] for i in range(n - 1)]
    chunks.append(sequence[(n - 1) * size:])
    return chunks


def quotes_template():
    """The lab's quote server, the book's Yahoo path: '{}' stands for the pair."""
    return env('LAB_QUOTES_URL')


def fetch_rate(pair, url_tmplt):
    """The book's get_rate body."""
    with urllib.request.urlopen(url_tmplt.format(pair)) as res:
        body = res.read()
    return (pair, float(body.strip()))


def versions(**extra):
    out = {'python': platform.python_version()}
    out.update({k: v for k, v in extra.items() if v})
    return out


class Clock:
    """Phases along the run, in ms, adding up to total_ms."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.phases = {}

    def mark(self, name):
        now = time.perf_counter()
        self.phases[name] = self.phases.get(name, 0.0) + (now - self.last) * 1000
        self.last = now

    def total_ms(self):
        return (self.last - self.t0) * 1000


def write(line):
    sys.stdout.write(json.dumps(line) + '\n')
    sys.stdout.flush()


def emit(output, clock, latencies_ms=None, info=None):
    line = {'output': output, 'total_ms': clock.total_ms(), 'phases': clock.phases, 'info': info or {}}
    if latencies_ms is not None:
        line['latencies_ms'] = latencies_ms
    write(line)


def describe(e):
    """One line for a failed sample: a driver's own SystemExit says it all; anything else is named."""
    if isinstance(e, SystemExit):
        return str(e.code)
    return f'{type(e).__name__}: {e}'


def serve(handlers, info, explain=describe, reset=None):
    write({'ready': True, 'info': info})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            handlers[req['scenario']](req['mode'], req['params'])
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: B902 — a sample's SystemExit fails that sample, not the driver
            if reset:
                reset()
            write({'error': explain(e)})


def main(handlers, info, explain=describe, cleanup=None, reset=None):
    args = sys.argv[1:]
    if args == ['--serve']:
        serve(handlers, info, explain, reset)
    elif args == ['--cleanup']:
        if cleanup:
            cleanup()
    elif len(args) == 2:
        try:
            handlers[args[0]](args[1], params())
        except SystemExit:
            raise
        except Exception as e:
            raise SystemExit(explain(e))
    else:
        raise SystemExit('usage: driver.py <scenario> <mode> | --serve | --cleanup')


def pairs_template(p):
    return f"{quotes_template()}&latency_ms={p['latency']}" if 'latency' in p else quotes_template()
