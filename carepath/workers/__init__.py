"""Scale-out workers (issue 22 item 5): the sweep's pages and the dispatcher's batches as Celery
tasks, so that any number of processes on any number of machines share one pipeline.

``queue.py`` is the broker side (the Celery app, its settings, the queue names, and the
``Enqueuer`` the scheduler uses in cluster mode); ``tasks.py`` is the work a task does: the same
services the embedded scheduler calls (``store.wakeups.wake_due``, ``delivery.dispatcher``),
one page per task. ``cli`` builds the Flask app and the channels and hands them here, as it
does for the scheduler. docs/cluster.md says how to run it.
"""
