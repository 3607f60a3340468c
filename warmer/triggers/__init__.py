"""Triggers decide what to enqueue: connect, commit, miss, and a manual full warming."""
