"""Fine-tune a small text classifier with numpy alone, reporting everything to Tuneboard.

    python examples/train_text_classifier.py --server http://127.0.0.1:8000 --token tb_…

The model is an embedding bag (the mean of learned unigram and bigram embeddings)
followed by a softmax layer, trained with minibatch SGD and momentum on
`examples/data/reviews.tsv` (3 sentiment classes). Each of the five pipeline stages,
every training step's loss, learning rate and gradient norm, each epoch's validation
loss, accuracy and macro F1, and the script's log lines go through the Tuneboard client.

`--fail-at STAGE` makes that stage fail with a real exception (a missing file, a
vocabulary without its unknown-token entry, a diverging loss, mismatched arrays, an
unwritable directory), to show how failures are captured.
"""

import argparse
import itertools
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "client"))
import tuneboard  # the repo's client, whether or not it is pip-installed

DATA = Path(__file__).resolve().parent / "data" / "reviews.tsv"
STAGES = ("dataset_loading", "tokenization", "training", "validation", "save_model")
UNK = "[UNK]"
TOKEN_RE = re.compile(r"[a-z0-9']+")

log = logging.getLogger("train_text_classifier")


# --- data ----------------------------------------------------------------------------


def load_dataset(path, *, val_fraction, seed):
    """Rows of `label<TAB>text`, shuffled and split into train and validation."""
    rows = []
    with open(path, encoding="utf-8") as data:
        for number, line in enumerate(data, start=1):
            label, sep, text = line.rstrip("\n").partition("\t")
            if not sep or not text:
                raise ValueError(f"{path}:{number}: expected 'label<TAB>text'")
            rows.append((label, text))
    order = np.random.default_rng(seed).permutation(len(rows))
    rows = [rows[i] for i in order]
    cut = int(len(rows) * (1 - val_fraction))
    return rows[:cut], rows[cut:]


def features(text):
    """Unigrams and bigrams: bigrams let a bag of words see "not good"."""
    tokens = TOKEN_RE.findall(text.lower())
    return tokens + [f"{a}_{b}" for a, b in itertools.pairwise(tokens)]


def build_vocab(texts, *, min_count, specials=(UNK,)):
    counts = Counter(feature for text in texts for feature in features(text))
    vocab = {token: index for index, token in enumerate(specials)}
    for token, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if count >= min_count:
            vocab[token] = len(vocab)
    return vocab


def encode(texts, vocab):
    unknown = vocab[UNK]
    return [np.array([vocab.get(f, unknown) for f in features(t)] or [unknown]) for t in texts]


def bag_matrix(batch, vocab_size):
    """Row-normalised counts: `bag @ E` is the mean embedding of each text."""
    bag = np.zeros((len(batch), vocab_size))
    for row, ids in enumerate(batch):
        np.add.at(bag[row], ids, 1.0 / len(ids))
    return bag


# --- model ---------------------------------------------------------------------------


class EmbeddingBagClassifier:
    def __init__(self, vocab_size, dim, classes, *, seed):
        rng = np.random.default_rng(seed)
        self.E = rng.normal(0, 0.1, (vocab_size, dim))
        self.W = rng.normal(0, 0.1, (dim, classes))
        self.b = np.zeros(classes)
        self.velocity = [np.zeros_like(p) for p in (self.E, self.W, self.b)]

    def forward(self, bag):
        hidden = bag @ self.E
        logits = hidden @ self.W + self.b
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return hidden, probs

    def loss(self, bag, labels):
        _, probs = self.forward(bag)
        return float(-np.log(probs[np.arange(len(labels)), labels] + 1e-12).mean()), probs

    def train_step(self, bag, labels, *, lr, momentum=0.9, weight_decay=1e-5):
        """One SGD step; returns (loss, gradient norm)."""
        hidden, probs = self.forward(bag)
        n = len(labels)
        loss = float(-np.log(probs[np.arange(n), labels] + 1e-12).mean())
        dlogits = probs
        dlogits[np.arange(n), labels] -= 1.0
        dlogits /= n
        grads = [
            bag.T @ (dlogits @ self.W.T) + weight_decay * self.E,
            hidden.T @ dlogits + weight_decay * self.W,
            dlogits.sum(axis=0),
        ]
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
        for param, grad, velocity in zip(
            (self.E, self.W, self.b), grads, self.velocity, strict=True
        ):
            velocity *= momentum
            velocity -= lr * grad
            param += velocity
        return loss, norm


def macro_f1(labels, predictions, classes):
    """Macro-averaged F1 and per-class (precision, recall, f1), computed from counts."""
    per_class = []
    for c in range(classes):
        tp = int(((predictions == c) & (labels == c)).sum())
        fp = int(((predictions == c) & (labels != c)).sum())
        fn = int(((predictions != c) & (labels == c)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append((precision, recall, f1))
    return sum(f for _, _, f in per_class) / classes, per_class


def evaluate(model, encoded, labels, vocab_size, classes):
    losses, predictions = [], []
    for start in range(0, len(encoded), 256):
        bag = bag_matrix(encoded[start : start + 256], vocab_size)
        loss, probs = model.loss(bag, labels[start : start + 256])
        losses.append(loss * len(probs))
        predictions.append(probs.argmax(axis=1))
    predictions = np.concatenate(predictions)
    accuracy = float((predictions == labels).mean())
    f1, per_class = macro_f1(labels, predictions, classes)
    return sum(losses) / len(encoded), accuracy, f1, per_class, predictions


# --- the run -------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("TUNEBOARD_SERVER"))
    parser.add_argument("--token", default=os.environ.get("TUNEBOARD_TOKEN"))
    parser.add_argument("--uid", default=None, help="job uid (the same uid resumes)")
    parser.add_argument("--name", default="reviews-embbag-numpy")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds; to watch live")
    parser.add_argument("--fail-at", choices=STAGES, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "momentum": 0.9,
        "embedding_dim": args.dim,
        "features": "unigrams+bigrams",
        "seed": args.seed,
    }
    run = tuneboard.init(
        server=args.server,
        token=args.token,
        uid=args.uid,
        name=args.name,
        model="embedding-bag-softmax (numpy)",
        dataset="reviews-synthetic-3class",
        config=config,
        tags=["example", "numpy"],
        total_epochs=args.epochs,
    )
    log.addHandler(run.logging_handler())
    log.info("Tuneboard job %s", run.url)
    with run:
        train(run, args)
    print(run.url)


def train(run, args):
    """The five pipeline stages, each reported to Tuneboard as it starts and ends."""
    train_rows, val_rows, classes, y_train, y_val = load_stage(run, args)
    vocab, x_train, x_val = tokenization_stage(run, args, train_rows, val_rows)
    model, step = training_stage(run, args, vocab, classes, (x_train, y_train), (x_val, y_val))
    validation_stage(run, args, model, vocab, classes, (x_val, y_val), step)
    save_stage(run, args, model, vocab, classes)


def load_stage(run, args):
    """1. dataset loading: the train/validation split and the label ids of each row."""
    run.stage("dataset_loading")
    path = args.data
    if args.fail_at == "dataset_loading":
        path = path.with_name("reviews-v2.tsv")  # a file that was never shipped
    train_rows, val_rows = load_dataset(path, val_fraction=0.15, seed=args.seed)
    classes = sorted({label for label, _ in train_rows})
    label_ids = {label: i for i, label in enumerate(classes)}
    y_train = np.array([label_ids[label] for label, _ in train_rows])
    y_val = np.array([label_ids[label] for label, _ in val_rows])
    log.info(
        "Loaded %d train / %d validation reviews from %s; classes: %s",
        len(train_rows),
        len(val_rows),
        path.name,
        ", ".join(classes),
    )
    run.stage("dataset_loading", "completed", message=f"{len(train_rows) + len(val_rows)} rows")
    return train_rows, val_rows, classes, y_train, y_val


def tokenization_stage(run, args, train_rows, val_rows):
    """2. tokenization: the vocabulary, and both splits as arrays of feature ids."""
    run.stage("tokenization")
    specials = () if args.fail_at == "tokenization" else (UNK,)
    vocab = build_vocab([text for _, text in train_rows], min_count=2, specials=specials)
    x_train = encode([text for _, text in train_rows], vocab)
    x_val = encode([text for _, text in val_rows], vocab)
    unknown = sum(int((ids == vocab[UNK]).sum()) for ids in x_val)
    log.info(
        "Vocabulary: %d unigram/bigram features (min count 2); %d unknown in validation",
        len(vocab),
        unknown,
    )
    run.stage("tokenization", "completed", message=f"{len(vocab)} features")
    return vocab, x_train, x_val


def training_stage(run, args, vocab, classes, train_set, val_set):
    """3. training: every step's metrics, and a validation pass after each epoch.

    Returns the trained model and the number of steps taken.
    """
    (x_train, y_train), (x_val, y_val) = train_set, val_set
    run.stage("training", progress=0)
    model = EmbeddingBagClassifier(len(vocab), args.dim, len(classes), seed=args.seed)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    run.progress(step=0, total_steps=total_steps, epoch=0)
    lr = args.lr * (1e6 if args.fail_at == "training" else 1.0)
    rng = np.random.default_rng(args.seed)
    step = 0
    with np.errstate(over="raise", invalid="raise"):
        for epoch in range(args.epochs):
            order = rng.permutation(len(x_train))
            epoch_losses = []
            for start in range(0, len(order), args.batch_size):
                index = order[start : start + args.batch_size]
                bag = bag_matrix([x_train[i] for i in index], len(vocab))
                # Linear warm-up for one epoch, then cosine decay to a tenth.
                progress = step / total_steps
                step_lr = lr * min(1.0, (step + 1) / steps_per_epoch)
                step_lr *= 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
                loss, grad_norm = model.train_step(bag, y_train[index], lr=step_lr)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training loss is {loss} at step {step}")
                step += 1
                epoch_losses.append(loss)
                fractional_epoch = step / steps_per_epoch
                run.log(
                    {"train/loss": loss, "learning_rate": step_lr, "grad_norm": grad_norm},
                    step=step,
                    epoch=fractional_epoch,
                )
                run.progress(step=step, epoch=fractional_epoch)
                if args.step_delay:
                    time.sleep(args.step_delay)
            val_loss, accuracy, f1, _, _ = evaluate(model, x_val, y_val, len(vocab), len(classes))
            run.log(
                {"val/loss": val_loss, "val/accuracy": accuracy, "val/f1": f1},
                step=step,
                epoch=epoch + 1,
            )
            log.info(
                "epoch %d/%d: train loss %.4f, val loss %.4f, accuracy %.3f, macro F1 %.3f",
                epoch + 1,
                args.epochs,
                float(np.mean(epoch_losses)),
                val_loss,
                accuracy,
                f1,
            )
            run.stage("training", progress=100 * (epoch + 1) / args.epochs)
    run.stage("training", "completed")
    return model, step


def validation_stage(run, args, model, vocab, classes, val_set, step):
    """4. validation: per-class precision/recall/F1 and the confusion matrix."""
    x_val, y_val = val_set
    run.stage("validation")
    labels = y_val[:-1] if args.fail_at == "validation" else y_val
    val_loss, accuracy, f1, per_class, predictions = evaluate(
        model, x_val, y_val, len(vocab), len(classes)
    )
    matrix = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(matrix, (labels, predictions), 1)
    for name, (precision, recall, class_f1) in zip(classes, per_class, strict=True):
        log.info("%-9s precision %.3f  recall %.3f  F1 %.3f", name, precision, recall, class_f1)
    log.info("confusion matrix (rows: true %s): %s", "/".join(classes), matrix.tolist())
    run.log({"val/loss": val_loss, "val/accuracy": accuracy, "val/f1": f1}, step=step)
    run.stage("validation", "completed", message=f"accuracy {accuracy:.3f}, F1 {f1:.3f}")


def save_stage(run, args, model, vocab, classes):
    """5. save model: the weights, vocabulary and classes in one .npz file."""
    run.stage("save_model")
    out_dir = args.output_dir or Path(tempfile.gettempdir()) / "tuneboard-models"
    if args.fail_at == "save_model":
        out_dir = out_dir / "missing-parent" / "models"  # never created: open() fails
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{run.uid}.npz"
    with open(target, "wb") as artifact:
        np.savez_compressed(
            artifact,
            embeddings=model.E,
            weights=model.W,
            bias=model.b,
            vocab=np.array(json.dumps(vocab)),
            classes=np.array(classes),
        )
    log.info("Saved model to %s (%.1f kB)", target, target.stat().st_size / 1024)
    run.stage("save_model", "completed", message=str(target))


if __name__ == "__main__":
    main()
