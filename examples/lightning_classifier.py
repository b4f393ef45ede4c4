"""Train a bag-of-words review classifier with Lightning, reported by `TuneboardLogger`.

    pip install -r requirements-ml.txt
    export TUNEBOARD_SERVER=http://127.0.0.1:8000 TUNEBOARD_TOKEN=tb_…
    python examples/lightning_classifier.py --epochs 5

`fit()` reports the training stage, `train/loss` every step and `val/loss`,
`val/accuracy` after each epoch; the checkpoint Lightning writes is the save_model
stage; the `validate()` and `test()` after `fit()` are reported too, and the job is
completed when the script ends. The hyper-parameters (`save_hyperparameters()`) are the
job's config; printed lines and host resources arrive without code.
"""

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "client"))  # the repo's client, installed or not
sys.path.insert(0, str(HERE))

import lightning.pytorch as pl  # noqa: E402  (after the path set-up above)
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402
from train_text_classifier import (  # noqa: E402
    DATA,
    bag_matrix,
    build_vocab,
    encode,
    load_dataset,
)
from tuneboard.integrations.lightning import TuneboardLogger  # noqa: E402


class BagOfWords(pl.LightningModule):
    def __init__(self, vocab_size, classes, hidden=32, lr=0.5):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(vocab_size, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes)
        )

    def _loss(self, batch):
        x, y = batch
        logits = self.net(x)
        return torch.nn.functional.cross_entropy(logits, y), (logits.argmax(-1) == y).float()

    def training_step(self, batch, batch_idx):
        loss, _ = self._loss(batch)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, correct = self._loss(batch)
        self.log("val/loss", loss)
        self.log("val/accuracy", correct.mean())

    def test_step(self, batch, batch_idx):
        loss, correct = self._loss(batch)
        self.log("test/loss", loss)
        self.log("test/accuracy", correct.mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def tensors(rows, vocab, labels):
    bags = bag_matrix(encode([text for _, text in rows], vocab), len(vocab))
    y = torch.tensor([labels[label] for label, _ in rows])
    return TensorDataset(torch.tensor(bags, dtype=torch.float32), y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uid", default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    pl.seed_everything(7)
    train_rows, val_rows = load_dataset(DATA, val_fraction=0.15, seed=7)
    labels = {label: i for i, label in enumerate(sorted({label for label, _ in train_rows}))}
    vocab = build_vocab([text for _, text in train_rows], min_count=2)
    train_set, val_set = tensors(train_rows, vocab, labels), tensors(val_rows, vocab, labels)
    print(f"{len(train_set)} train / {len(val_set)} validation reviews, {len(vocab)} features")

    logger = TuneboardLogger(
        uid=args.uid,
        name="reviews-bow-lightning",
        model="bag-of-words MLP",
        dataset="reviews-synthetic-3class",
        tags=["example", "lightning"],
    )
    trainer = pl.Trainer(
        logger=logger,
        max_epochs=args.epochs,
        accelerator="cpu",
        log_every_n_steps=5,
        default_root_dir=str(args.output_dir or tempfile.mkdtemp(prefix="tuneboard-pl-")),
        enable_model_summary=False,
    )
    model = BagOfWords(len(vocab), len(labels))
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=256)
    trainer.fit(model, train_loader, val_loader)
    (final,) = trainer.validate(model, val_loader)
    print(f"final validation accuracy {final['val/accuracy']:.3f}")
    trainer.test(model, val_loader)


if __name__ == "__main__":
    main()
