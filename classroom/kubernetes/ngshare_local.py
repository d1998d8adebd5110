"""ngshare as exchange_trial.py runs it on this machine: on loopback, with upstream's fix for SQLAlchemy 2.

    python classroom/kubernetes/ngshare_local.py [ngshare's options]

In the cluster ngshare runs in its own pod, from its own chart and image, and
listens on every interface of that pod; here its server binds 127.0.0.1 only.

ngshare 0.6.0, the latest release on PyPI (December 2022), predates SQLAlchemy 2,
which this environment has (its alembic 1.20, which JupyterHub uses, requires
it). SQLAlchemy 2 no longer adds a new object to the database session through a
backref, so ngshare 0.6.0 never saves a released assignment or a submission (it
logs "Object of type <Assignment> not in session"; nbgrader then finds nothing
to fetch). Upstream fixed it in October 2024 (LibreTexts/ngshare, commit
fd8467e: the handlers add the new Assignment and Submission to the session) but
has made no release since. This does the same from outside: a new Assignment or
Submission joins the session of the course or assignment it is given. Nothing
else of ngshare changes.
"""

import sys

import tornado.httpserver
from ngshare import ngshare
from ngshare.database import Assignment, Submission
from sqlalchemy import event
from sqlalchemy.orm import configure_mappers, object_session


def join_parents_session(target, value, oldvalue, initiator):
    """A new Assignment (Submission) joins its course's (assignment's) session, as under SQLAlchemy 1."""
    session = object_session(value) if value is not None else None
    if session is not None:
        session.add(target)


def on_loopback(listen):
    """HTTPServer.listen, bound to 127.0.0.1 whatever address ngshare asks for."""
    return lambda server, port, address=None, **options: listen(server, port, "127.0.0.1", **options)


def main(argv):
    """ngshare's own main, on loopback and with the session fix; used by `exchange_trial.py`."""
    configure_mappers()  # the backrefs Assignment.course and Submission.assignment exist from here
    for relation in (Assignment.course, Submission.assignment):
        event.listen(relation, "set", join_parents_session)
    tornado.httpserver.HTTPServer.listen = on_loopback(tornado.httpserver.HTTPServer.listen)
    ngshare.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
