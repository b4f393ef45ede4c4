"""Console capture: what a training script prints becomes the job's log lines.

`tuneboard.init(capture_console=True)` (the default; `TUNEBOARD_CAPTURE_CONSOLE=0` turns
it off) tees the process's stdout and stderr: everything is still printed locally,
unchanged, and each complete line is also queued as a log line of the run.

- **Levels.** A line whose text carries a level word (`INFO`, `WARNING`, `ERROR`, …, in
  capitals, within its first 80 characters) gets that level; otherwise stdout lines are
  INFO and stderr lines WARNING.
- **Progress bars.** A line rewritten with carriage returns (tqdm and friends) is sent
  in its last state when it ends (INFO, whatever the stream), plus its current state
  every `PROGRESS_SECONDS` while it lasts: not one line per redraw. ANSI escape
  sequences are removed; blank lines are skipped.
- **Python `logging`.** Records are delivered with their own level, once: while a
  record is being handled, what its handlers print is not captured a second time, and a
  record that the user's own `run.logging_handler()` already sent is not sent again.
  (`logging.Logger.callHandlers` is wrapped for that; with no capture running it only
  calls the original. The root logger gets no handler, so `logging.basicConfig` and
  Python's last-resort handler behave as before.)
- **`capture_console="fd"`** also redirects file descriptors 1 and 2 through pipes,
  so output of C extensions and of child processes that inherit them (`subprocess`,
  `os.system`, DataLoader workers) is captured too; a reader thread copies it to the
  original descriptors. The default (`True`, "python") replaces `sys.stdout` and
  `sys.stderr` only.
- **Exit.** Finishing the run (or the process exiting, which finishes open runs)
  flushes a last partial line and restores the streams before the final status.

One capture per process: with several runs open, lines go to the newest run that asked
for capture; the others get them again once it finishes.
"""

import codecs
import contextlib
import logging
import os
import re
import sys
import threading
import time

__all__ = ["LineSplitter", "attach", "detach", "level_of"]

PROGRESS_SECONDS = 30.0
LEVEL_WINDOW = 80
_LEVEL_WORD = re.compile(r"\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b")
_LEVEL_NAMES = {"WARN": "WARNING", "FATAL": "CRITICAL"}
# CSI sequences (colours, cursor moves: tqdm's multi-bar "\x1b[A"), OSC titles, and
# two-character escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def level_of(text, default):
    """The level a line's text carries (`ERROR: …`, `… [WARNING] …`), else `default`."""
    match = _LEVEL_WORD.search(text, 0, LEVEL_WINDOW)
    if match is None:
        return default
    word = match.group(1)
    return _LEVEL_NAMES.get(word, word)


class LineSplitter:
    """Turns a stream of writes into complete lines, carriage-return aware.

    `emit(text, level)` receives each line. `default_level` applies to lines without a
    level word; progress-bar lines (rewritten with "\\r") are INFO.
    """

    def __init__(self, emit, default_level, *, clock=time.monotonic):
        self.emit = emit
        self.default_level = default_level
        self.clock = clock
        self._lock = threading.Lock()
        self._buffer = ""
        self._rewritten = False  # the pending line was rewritten with "\r"
        self._shown_at = None  # when its current state was last sent
        self._shown = None

    def feed(self, text):
        if not text:
            return
        out = []
        with self._lock:
            buffer = self._buffer + text
            *lines, buffer = buffer.split("\n")
            for line in lines:
                self._line_done(line, out)
            if "\r" in buffer:
                self._rewritten = True
                buffer = _last_state(buffer)
                if self._shown_at is None:
                    self._shown_at = self.clock()
                elif self.clock() - self._shown_at >= PROGRESS_SECONDS:
                    state = _clean(buffer)
                    if state and state != self._shown:
                        out.append((state, "INFO"))
                        self._shown = state
                    self._shown_at = self.clock()
            self._buffer = buffer
        for line, level in out:
            self.emit(line, level)

    def _line_done(self, line, out):
        rewritten = self._rewritten or "\r" in line
        if "\r" in line:
            line = _last_state(line)
        text = _clean(line)
        if text and not (rewritten and text == self._shown):
            out.append((text, "INFO" if rewritten else level_of(text, self.default_level)))
        self._rewritten = False
        self._shown_at = None
        self._shown = None

    def flush(self):
        """Send a pending partial line (at exit)."""
        out = []
        with self._lock:
            if self._buffer:
                self._line_done(self._buffer, out)
                self._buffer = ""
        for line, level in out:
            self.emit(line, level)


def _last_state(text):
    """What a terminal shows of `text` rewritten with carriage returns: its last
    non-empty segment (tqdm redraws the whole bar after each "\\r")."""
    for segment in reversed(text.split("\r")):
        if segment.strip():
            return segment
    return ""


def _clean(line):
    return _ANSI.sub("", line).rstrip()


# -- the process-wide capture ------------------------------------------------------------

_lock = threading.RLock()
_runs = []  # runs that asked for capture, newest last
_capture = None
_local = threading.local()


def _current_run():
    with _lock:
        for run in reversed(_runs):
            if not run.finished:
                return run
    return None


def _emit(text, level):
    run = _current_run()
    if run is not None:
        run.log_text(text, level)


class _Tee:
    """Stands in for `sys.stdout`/`sys.stderr`: writes go to `local` unchanged and are
    split into log lines. Anything else is the original stream's."""

    def __init__(self, original, local, splitter):
        self._original = original
        self.tuneboard_local = local  # where the client's own messages go, uncaptured
        self._splitter = splitter

    def write(self, text):
        written = self.tuneboard_local.write(text)
        if not getattr(_local, "in_logging", 0) and isinstance(text, str):
            with contextlib.suppress(Exception):  # capture must never break printing
                self._splitter.feed(text)
        return written

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self.tuneboard_local.flush()

    def __getattr__(self, name):
        return getattr(self._original, name)


class _FdPipe:
    """File descriptor `fd` redirected into a pipe; a thread copies what arrives to the
    original descriptor and feeds the splitter."""

    def __init__(self, fd, splitter):
        self.fd = fd
        self.splitter = splitter
        self.saved = os.dup(fd)
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self._read_end = read_end
        self._thread = threading.Thread(target=self._pump, name=f"tuneboard-fd{fd}", daemon=True)
        self._thread.start()

    def _pump(self):
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                chunk = os.read(self._read_end, 65536)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.saved, view) :]
                with contextlib.suppress(Exception):
                    self.splitter.feed(decoder.decode(chunk))
        except OSError:
            pass
        finally:
            os.close(self._read_end)

    def restore(self, timeout=2.0):
        """Point `fd` back at the original and wait for the pipe to drain (children
        still holding it open may keep it from ending: not waited for longer)."""
        os.dup2(self.saved, self.fd)
        self._thread.join(timeout)
        os.close(self.saved)


class _Capture:
    def __init__(self, mode):
        self.mode = mode
        self.splitters = {
            "stdout": LineSplitter(_emit, "INFO"),
            "stderr": LineSplitter(_emit, "WARNING"),
        }
        self.tees = {}
        self.pipes = {}
        self.adopted = []  # (StreamHandler, its original stream) pointed at a tee
        for name, fd in (("stdout", 1), ("stderr", 2)):
            original = getattr(sys, name)
            if original is None:
                continue
            local = original
            if mode == "fd":
                try:
                    same_fd = original.fileno() == fd
                except Exception:
                    same_fd = False
                if same_fd:
                    original.flush()
                    pipe = _FdPipe(fd, self.splitters[name])
                    self.pipes[name] = pipe
                    # Python's own writes skip the pipe (they are teed, with the logging
                    # de-duplication) and go straight to the original descriptor.
                    local = open(  # noqa: SIM115 (closed in uninstall)
                        os.dup(pipe.saved),
                        "w",
                        encoding=getattr(original, "encoding", None) or "utf-8",
                        errors=getattr(original, "errors", None) or "replace",
                        buffering=1,
                    )
            tee = _Tee(original, local, self.splitters[name])
            self.tees[name] = tee
            setattr(sys, name, tee)
        _patch_logging()

    def adopt_handlers(self, logger):
        """With fd capture, a `StreamHandler` made before it (`logging.basicConfig`)
        writes to the original stream object, hence into the pipe, where its output could
        not be told apart from other output: point it at the tee instead, which knows a
        record is being handled (and leaves it to the record's own delivery)."""
        originals = {id(tee._original): tee for tee in self.tees.values()}
        while logger is not None:
            for handler in logger.handlers:
                tee = originals.get(id(getattr(handler, "stream", None)))
                if tee is not None and isinstance(handler, logging.StreamHandler):
                    self.adopted.append((handler, handler.stream))
                    handler.stream = tee
            if not logger.propagate:
                break
            logger = logger.parent

    def uninstall(self):
        for handler, stream in self.adopted:
            if handler.stream is self.tees.get("stdout") or handler.stream is self.tees.get(
                "stderr"
            ):
                handler.stream = stream
        for name, tee in self.tees.items():
            with contextlib.suppress(Exception):
                tee.flush()
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._original)
        for name, pipe in self.pipes.items():
            with contextlib.suppress(Exception):
                getattr(sys, name).flush()
            pipe.restore()
            self.tees[name].tuneboard_local.close()
        for splitter in self.splitters.values():
            splitter.flush()

    def flush(self):
        for splitter in self.splitters.values():
            splitter.flush()


def attach(run, mode="python"):
    """Start capturing into `run` (mode "python" or "fd")."""
    global _capture
    with _lock:
        if _capture is not None and not _capture_is_current():
            # Someone (a test runner, a notebook) swapped the streams since: start over.
            _capture.uninstall()
            _capture = None
        if _capture is None:
            _capture = _Capture(mode)
        _runs.append(run)


def detach(run):
    """Stop capturing into `run`: its pending partial lines are sent first; the streams
    are restored once no run captures any more."""
    global _capture
    with _lock:
        if run not in _runs:
            return
        if _capture is not None and _current_run() is run:
            _capture.flush()
        _runs.remove(run)
        if not _runs and _capture is not None:
            _capture.uninstall()
            _capture = None


def _capture_is_current():
    return all(getattr(sys, name) is tee for name, tee in _capture.tees.items())


# -- logging: each record once, with its level ---------------------------------------------

_original_call_handlers = None


def _patch_logging():
    global _original_call_handlers
    if _original_call_handlers is not None:
        return
    _original_call_handlers = original = logging.Logger.callHandlers

    def callHandlers(self, record):
        run = _current_run() if _capture is not None else None
        if run is None:
            return original(self, record)
        if _capture.pipes:
            _capture.adopt_handlers(self)
        _local.in_logging = getattr(_local, "in_logging", 0) + 1
        try:
            original(self, record)
        finally:
            _local.in_logging -= 1
        if not record.name.startswith("tuneboard") and not _has_run_handler(self, run):
            try:
                message = record.getMessage()
                if record.exc_info and not record.exc_text:
                    record.exc_text = logging.Formatter().formatException(record.exc_info)
                if record.exc_text:
                    message = f"{message}\n{record.exc_text}"
            except Exception:
                return
            run.log_text(message, record.levelname)

    logging.Logger.callHandlers = callHandlers


def _has_run_handler(logger, run):
    """Whether a handler of `run` (`run.logging_handler()`) sees `logger`'s records."""
    while logger is not None:
        for handler in logger.handlers:
            if getattr(handler, "run", None) is run:
                return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False
