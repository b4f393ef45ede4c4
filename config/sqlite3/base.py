"""SQLite whose connections outlive a request.

Under ASGI, Django runs each request's sync code in a new thread, and a database
connection belongs to its thread: every request opened the database file, ran the
PRAGMAs of `init_command` and closed the file again, about a sixth of a one-point write.
This backend keeps a closed connection in a small process-wide pool of idle ones and
hands it to the next request, as Django's own pool does for PostgreSQL. A connection
goes back only when it holds no transaction; in-memory databases are never pooled (their
lifetime is their connection's).

`ENGINE: "config.sqlite3"`; everything else is Django's SQLite backend.
"""

import threading

from django.db.backends.sqlite3 import base

IDLE_MAX = 4  # per database file; a pool never grows past the requests served at once


class DatabaseWrapper(base.DatabaseWrapper):
    _idle = {}  # database file → idle sqlite3 connections
    _idle_lock = threading.Lock()

    def _pooled(self):
        return not self.is_in_memory_db()

    def get_new_connection(self, conn_params):
        if self._pooled():
            with self._idle_lock:
                idle = self._idle.get(self.settings_dict["NAME"])
                conn = idle.pop() if idle else None
            if conn is not None:
                # Migrations and fixture loads switch it off for a while; a connection
                # that went back in between must not keep it off.
                conn.execute("PRAGMA foreign_keys = ON")
                return conn
        return super().get_new_connection(conn_params)

    def _close(self):
        conn = self.connection
        if conn is not None and self._pooled() and not conn.in_transaction:
            with self._idle_lock:
                idle = self._idle.setdefault(self.settings_dict["NAME"], [])
                if len(idle) < IDLE_MAX:
                    idle.append(conn)
                    return None
        return super()._close()
