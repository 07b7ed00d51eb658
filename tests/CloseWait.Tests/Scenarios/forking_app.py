"""A WSGI app for gunicorn that forks a multiprocessing child per request (the fork start method),
as a handler that starts a background job does: the child inherits the worker's sockets."""
import multiprocessing
import time

_fork = multiprocessing.get_context("fork")


def _job():
    time.sleep(120)


def app(environ, start_response):
    _fork.Process(target=_job).start()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
