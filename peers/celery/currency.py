"""The book's celery/currency.py. Changed for the lab: the quote URL defaults to the lab's own quote server
(LAB_QUOTES_URL; these machines have no internet), and the app is the shared labapp."""
import os
import urllib.request

from labapp import app

URL = os.environ.get('LAB_QUOTES_URL', 'http://finance.yahoo.com/d/quotes.csv?s={}=X&f=p')


@app.task(name='currency.get_rate')
def get_rate(pair, url_tmplt=URL):
    with urllib.request.urlopen(url_tmplt.format(pair)) as res:
        body = res.read()
    return (pair, float(body.strip()))
