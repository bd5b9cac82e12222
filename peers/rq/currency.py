"""The book's rq/currency.py: a plain function, no RQ or Redis in sight. Changed for the lab: the URL defaults to
the lab's own quote server (LAB_QUOTES_URL; these machines have no internet)."""
import os
import urllib.request

URL = os.environ.get('LAB_QUOTES_URL', 'http://finance.yahoo.com/d/quotes.csv?s={}=X&f=p')


def get_rate(pair, url_tmplt=URL):
    # raise Exception('Booo!')

    with urllib.request.urlopen(url_tmplt.format(pair)) as res:
        body = res.read()
    return (pair, float(body.strip()))
