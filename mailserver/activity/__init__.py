"""What each account did, as the server saw it: last login and the lab exercises done."""

from mailserver.activity.exercises import EXERCISES, exercises_done
from mailserver.activity.tracker import ActivityTracker, load_activity

__all__ = ["EXERCISES", "ActivityTracker", "exercises_done", "load_activity"]
