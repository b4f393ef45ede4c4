"""Fine-tune a tiny BERT with the Hugging Face `Trainer`, reported by `TuneboardCallback`.

    pip install -r requirements-ml.txt
    python examples/hf_trainer.py --server http://127.0.0.1:8000 --token tb_… --max-steps 200

Nothing is downloaded: the word-level tokenizer is trained here on
`examples/data/reviews.tsv` with the `tokenizers` library, and the model is a 2-layer
BERT built from a config with random weights. The callback reports training, each
evaluation (validation stage, `val/loss`, `val/accuracy`, `val/f1`) and progress; the
script marks dataset loading, tokenization and saving itself.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "client"))  # the repo's client, installed or not
sys.path.insert(0, str(HERE))

import torch  # noqa: E402  (after the path set-up above, like the imports below)
import tuneboard  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers  # noqa: E402
from train_text_classifier import DATA, load_dataset, macro_f1  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)
from tuneboard.integrations.huggingface import TuneboardCallback  # noqa: E402

MAX_LENGTH = 40


def train_tokenizer(texts):
    """A word-level tokenizer trained on the training texts (no hub download)."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"], min_frequency=2)
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]")


class EncodedReviews(torch.utils.data.Dataset):
    def __init__(self, tokenizer, rows, label_ids):
        encoded = tokenizer(
            [text for _, text in rows],
            padding="max_length",
            truncation=True,
            max_length=MAX_LENGTH,
            return_tensors="pt",
        )
        self.input_ids = encoded["input_ids"]
        self.attention_mask = encoded["attention_mask"]
        self.labels = torch.tensor([label_ids[label] for label, _ in rows])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return {
            "input_ids": self.input_ids[index],
            "attention_mask": self.attention_mask[index],
            "labels": self.labels[index],
        }


def compute_metrics(prediction):
    predictions = np.argmax(prediction.predictions, axis=-1)
    labels = prediction.label_ids
    f1, _ = macro_f1(labels, predictions, prediction.predictions.shape[-1])
    return {"accuracy": float((predictions == labels).mean()), "f1": f1}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=os.environ.get("TUNEBOARD_SERVER"))
    parser.add_argument("--token", default=os.environ.get("TUNEBOARD_TOKEN"))
    parser.add_argument("--uid", default=None)
    parser.add_argument("--name", default="reviews-tinybert-trainer")
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--eval-steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output-dir", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    config = BertConfig(
        vocab_size=1,  # set once the tokenizer is trained
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=MAX_LENGTH,
        num_labels=3,
    )
    run = tuneboard.init(
        server=args.server,
        token=args.token,
        uid=args.uid,
        name=args.name,
        model="bert-tiny (from config, random init)",
        dataset="reviews-synthetic-3class",
        config={
            "max_steps": args.max_steps,
            "batch_size": args.batch_size,
            "learning_rate": args.lr,
            "hidden_size": config.hidden_size,
            "num_hidden_layers": config.num_hidden_layers,
            "seed": args.seed,
        },
        tags=["example", "huggingface"],
        total_steps=args.max_steps,
    )
    print(run.url, flush=True)
    with run:
        tokenizer, train_set, val_set = prepare_data(run, args)
        config.vocab_size = tokenizer.vocab_size
        model = BertForSequenceClassification(config)
        output_dir = args.output_dir or Path(tempfile.mkdtemp(prefix="tuneboard-hf-"))
        trainer = build_trainer(run, args, model, output_dir, train_set, val_set)
        trainer.train()
        final = trainer.evaluate()
        run.log_text(
            f"final validation: loss {final['eval_loss']:.4f}, accuracy "
            f"{final['eval_accuracy']:.3f}, macro F1 {final['eval_f1']:.3f}"
        )
        save_model(run, trainer, tokenizer, output_dir / "final")


def prepare_data(run, args):
    """The dataset loading and tokenization stages: `(tokenizer, train_set, val_set)`."""
    run.stage("dataset_loading")
    train_rows, val_rows = load_dataset(DATA, val_fraction=0.15, seed=args.seed)
    classes = sorted({label for label, _ in train_rows})
    label_ids = {label: i for i, label in enumerate(classes)}
    run.log_text(f"Loaded {len(train_rows)} train / {len(val_rows)} validation reviews")
    run.stage("dataset_loading", "completed")

    run.stage("tokenization")
    tokenizer = train_tokenizer([text for _, text in train_rows])
    train_set = EncodedReviews(tokenizer, train_rows, label_ids)
    val_set = EncodedReviews(tokenizer, val_rows, label_ids)
    run.log_text(f"Word-level vocabulary of {tokenizer.vocab_size} tokens")
    run.stage("tokenization", "completed")
    return tokenizer, train_set, val_set


def build_trainer(run, args, model, output_dir, train_set, val_set):
    """A CPU `Trainer` for `model`, reporting to Tuneboard through the callback."""
    training_args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=128,
        learning_rate=args.lr,
        warmup_steps=max(1, args.max_steps // 10),
        logging_steps=max(1, args.max_steps // 20),
        eval_strategy="steps",
        eval_steps=args.eval_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=args.seed,
        disable_tqdm=True,
    )
    return Trainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=val_set,
        compute_metrics=compute_metrics,
        callbacks=[TuneboardCallback(run)],
    )


def save_model(run, trainer, tokenizer, target):
    """The save_model stage: the model and its tokenizer, side by side in `target`."""
    run.stage("save_model")
    trainer.save_model(str(target))
    tokenizer.save_pretrained(str(target))
    run.log_text(f"Saved model and tokenizer to {target}")
    run.stage("save_model", "completed", message=str(target))


if __name__ == "__main__":
    main()
