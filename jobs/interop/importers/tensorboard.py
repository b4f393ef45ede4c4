"""TensorBoard event files: every run directory under a path becomes a job.

Read with TensorBoard's own event-file reader (the `tensorboard` package, an optional
extra): scalars (TF1 `simple_value` and TF2 scalar tensors) become metric points (tag →
key, step, wall time), hparams (the HParams plugin) become the config, text summaries
become log lines. A directory holding event files is a run; torch's
`SummaryWriter.add_hparams` writes its hparams into a subdirectory of the run, which is
merged into the run above it.
"""

import struct
from pathlib import Path

from .base import AlreadyImported, BadSource, ImportedRun, MissingExtra, imported_before, uid_for

KIND = "tensorboard"
EVENT_GLOB = "*tfevents*"


def _reader():
    try:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.hparams import plugin_data_pb2
        from tensorboard.util import tensor_util
    except ImportError:
        raise MissingExtra(
            "Importing TensorBoard runs needs the tensorboard package: pip install tensorboard"
        ) from None
    return event_pb2, plugin_data_pb2, tensor_util


def _masked_crc(data, crc32c):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def event_records(path):
    """The serialized events of one event file (TFRecord framing), each record's length
    and data checked against their CRC-32C; raises `BadSource` for a corrupt record.

    TensorBoard's own loader checks the CRCs in pure Python without TensorFlow (about 40
    s for 200,000 scalars here); with `google-crc32c` (C) the same checks take a fraction
    of that. Without it, TensorBoard's loader reads the file.
    """
    try:
        from google_crc32c import value as crc32c
    except ImportError:
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

        yield from RawEventFileLoader(str(path)).Load()
        return
    data = Path(path).read_bytes()
    position, size = 0, len(data)
    while position < size:
        if position + 12 > size:
            raise BadSource(f"{path}: truncated record header at byte {position}")
        header = data[position : position + 8]
        (length,) = struct.unpack_from("<Q", data, position)
        (header_crc,) = struct.unpack_from("<I", data, position + 8)
        if _masked_crc(header, crc32c) != header_crc:
            raise BadSource(f"{path}: record header at byte {position} fails its CRC check")
        start = position + 12
        end = start + length
        if end + 4 > size:
            raise BadSource(f"{path}: truncated record at byte {position}")
        record = data[start:end]
        (record_crc,) = struct.unpack_from("<I", data, end)
        if _masked_crc(record, crc32c) != record_crc:
            raise BadSource(f"{path}: record at byte {position} fails its CRC check")
        yield record
        position = end + 4


def run_directories(path):
    """Directories under `path` (itself included) that hold event files, sorted."""
    path = Path(path)
    if path.is_file():
        return [path.parent]
    if not path.is_dir():
        raise BadSource(f"{path}: no such file or directory")
    return sorted({event.parent for event in path.rglob(EVENT_GLOB) if event.is_file()})


def _hparam_value(value):
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def read_directory(directory):
    """(scalars {(tag, step): (value, wall_time)}, hparams {name: value}, texts
    [(wall_time, step, tag, text)]) of every event file directly in `directory`."""
    event_pb2, plugin_data_pb2, tensor_util = _reader()
    scalars, hparams, texts = {}, {}, []
    for event_file in sorted(directory.glob(EVENT_GLOB)):
        plugins = {}
        try:
            for record in event_records(event_file):
                event = event_pb2.Event.FromString(record)
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    metadata = value.metadata if value.HasField("metadata") else None
                    if metadata is not None and metadata.plugin_data.plugin_name:
                        plugins[value.tag] = metadata.plugin_data.plugin_name
                    plugin = plugins.get(value.tag, "")
                    kind = value.WhichOneof("value")
                    if plugin == "hparams" and metadata is not None:
                        data = plugin_data_pb2.HParamsPluginData.FromString(
                            metadata.plugin_data.content
                        )
                        if data.HasField("session_start_info"):
                            for name, hparam in data.session_start_info.hparams.items():
                                hparams[name] = _hparam_value(hparam)
                        continue
                    if kind == "simple_value":
                        scalars[(value.tag, event.step)] = (value.simple_value, event.wall_time)
                    elif kind == "tensor" and plugin == "scalars":
                        number = tensor_util.make_ndarray(value.tensor).item()
                        scalars[(value.tag, event.step)] = (float(number), event.wall_time)
                    elif kind == "tensor" and plugin == "text":
                        array = tensor_util.make_ndarray(value.tensor)
                        for item in array.flatten().tolist():
                            text = (
                                item.decode("utf-8", "replace")
                                if isinstance(item, bytes)
                                else str(item)
                            )
                            texts.append((event.wall_time, event.step, value.tag, text))
        except BadSource:
            raise
        except Exception as exc:  # a record that is no event, a bad tensor: the file is bad
            raise BadSource(f"{event_file}: cannot be read ({type(exc).__name__}: {exc})")
    return scalars, hparams, texts


def run_name(root, directory, name=None):
    return name or str(directory.relative_to(root) if directory != root else root.name)


def read_runs(path, *, name=None, model="", dataset="", tags=()):
    """`ImportedRun`s of the TensorBoard runs under `path`, and `BadSource`s for
    directories that could not be read (yielded, not raised, so the others go on)."""
    root = Path(path).resolve()
    directories = run_directories(root)
    read, known = {}, set()
    for directory in directories:
        if imported_before(uid_for(KIND, str(directory)), KIND):
            known.add(directory)
            yield AlreadyImported(uid_for(KIND, str(directory)), run_name(root, directory, name))
            continue
        if directory.parent in known:
            continue  # add_hparams' subdirectory of a run imported before
        try:
            read[directory] = read_directory(directory)
        except BadSource as bad:
            yield bad
    # torch's add_hparams: hparams (and its metric_dict) in a subdirectory of the run.
    merged = {}
    for directory in sorted(read, key=lambda d: len(d.parts), reverse=True):
        scalars, hparams, texts = read[directory]
        parent = directory.parent
        if hparams and parent in read and directory not in merged:
            parent_scalars, parent_hparams, parent_texts = read[parent]
            parent_hparams.update(hparams)
            for key, value in scalars.items():
                parent_scalars.setdefault(key, value)
            parent_texts.extend(texts)
            merged[directory] = parent
    for directory, (scalars, hparams, texts) in read.items():
        if directory in merged:
            continue
        run = ImportedRun(
            kind=KIND,
            origin=str(directory),
            name=run_name(root, directory, name),
            model=model,
            dataset=dataset,
            tags=list(tags),
            config=dict(hparams),
        )
        run.points = [
            {"key": tag, "step": step, "value": value, "time": wall_time}
            for (tag, step), (value, wall_time) in scalars.items()
        ]
        texts.sort(key=lambda item: (item[0], item[1]))
        run.logs = [
            {"seq": seq, "time": wall_time, "level": "INFO", "message": f"[{tag}] {text}"}
            for seq, (wall_time, _step, tag, text) in enumerate(texts, start=1)
        ]
        run.fill_model_and_dataset()
        if not run.points and not run.logs and not run.config:
            yield BadSource(f"{directory}: event files without scalars, hparams or text")
            continue
        yield run
