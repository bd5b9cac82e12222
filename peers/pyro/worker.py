"""The book's pyro/worker.py, one process per worker. Changed for Pyro4 4.82 and the lab: `@Pyro4.expose` plus
`@Pyro4.behavior(instance_mode='percall')` (4.82's spelling of the book's expose(instance_mode=…)); the daemon binds
the host's lab address (LAB_PYRO_HOST) instead of localhost; every daemon and the name server use the lab's HMAC key
(PYRO_HMAC_KEY, in the environment, never on a command line), so no one else can call them; each worker registers
under its own name (LAB_PYRO_NAME) — the book registers 'MyWorker' once, and a second registration would replace the
first; the quote URL defaults to the lab's quote server (LAB_QUOTES_URL)."""
import os
import urllib.request

import Pyro4

URL = os.environ.get('LAB_QUOTES_URL', 'http://finance.yahoo.com/d/quotes.csv?s={}=X&f=p')
KEY = os.environ['PYRO_HMAC_KEY'].encode()


@Pyro4.expose
@Pyro4.behavior(instance_mode='percall')
class Worker(object):
    def get_rate(self, pair, url_tmplt=URL):
        with urllib.request.urlopen(url_tmplt.format(pair)) as res:
            body = res.read()
        return (pair, float(body.strip()))

    def echo(self, message):
        return message


# Create a Pyro daemon which will run our code.
daemon = Pyro4.Daemon(host=os.environ['LAB_PYRO_HOST'])
daemon._pyroHmacKey = KEY
uri = daemon.register(Worker)
ns = Pyro4.locateNS(host=os.environ['LAB_PYRO_NS_HOST'], port=int(os.environ['LAB_PYRO_NS_PORT']), hmac_key=KEY)
ns.register(os.environ['LAB_PYRO_NAME'], uri)

# Sit in an infinite loop accepting connections
print('Accepting connections', flush=True)
try:
    daemon.requestLoop()
except KeyboardInterrupt:
    daemon.shutdown()
print('All done')
