"""The book's test.py (renamed: a module called `test` would shadow Python's own test package)."""
from labapp import app


@app.task(name='test.echo')
def echo(message):
    return message
