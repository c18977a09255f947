"""``workers: N``: a supervisor process and N worker processes on one data_dir.

``supervisor`` binds the listeners, starts and restarts the workers and
hosts the event hub; ``worker`` is the entry point of one worker process.
"""
