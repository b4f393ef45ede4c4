"""Fine-tune a tiny BERT with the Hugging Face `Trainer`, the way HF tutorials do it:
`train()`, `evaluate()`, `save_model()` — reported by `TuneboardCallback` alone.

    pip install -r requirements-ml.txt
    export TUNEBOARD_SERVER=http://127.0.0.1:8000 TUNEBOARD_TOKEN=tb_…
    python examples/hf_finetune.py --max-steps 200

The callback creates the job at train begin and keeps it open until the script ends,
so the final `evaluate()` (validation stage, `val/*` metrics) and `save_model()`
(save_model stage) are on the job page too; the end-of-training values
(`train_runtime`, `train_loss`, …) are recorded as summaries. What the script prints
(and the Trainer's own log dicts) arrives as log lines, and the host's CPU, memory and
GPUs as resource samples, with no code for either. Nothing is downloaded: the tokenizer
and the model come from `hf_trainer.py` (trained here, built from a config).
"""

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "client"))  # the repo's client, installed or not
sys.path.insert(0, str(HERE))

import torch  # noqa: E402  (after the path set-up above, like the imports below)
from hf_trainer import MAX_LENGTH, EncodedReviews, compute_metrics, train_tokenizer  # noqa: E402
from train_text_classifier import DATA, load_dataset  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
)
from tuneboard.integrations.huggingface import TuneboardCallback  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uid", default=None, help="job uid (default: made from the name)")
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--eval-steps", type=int, default=50)
    parser.add_argument("--output-dir", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(7)
    train_rows, val_rows = load_dataset(DATA, val_fraction=0.15, seed=7)
    labels = {label: i for i, label in enumerate(sorted({label for label, _ in train_rows}))}
    tokenizer = train_tokenizer([text for _, text in train_rows])
    train_set = EncodedReviews(tokenizer, train_rows, labels)
    val_set = EncodedReviews(tokenizer, val_rows, labels)
    print(
        f"{len(train_set)} train / {len(val_set)} validation reviews, "
        f"vocabulary of {tokenizer.vocab_size}"
    )

    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=MAX_LENGTH,
        num_labels=len(labels),
    )
    output_dir = args.output_dir or Path(tempfile.mkdtemp(prefix="tuneboard-hf-"))
    trainer = Trainer(
        model=BertForSequenceClassification(config),
        args=TrainingArguments(
            output_dir=str(output_dir),
            max_steps=args.max_steps,
            per_device_train_batch_size=32,
            learning_rate=3e-3,
            logging_steps=max(1, args.max_steps // 20),
            eval_strategy="steps",
            eval_steps=args.eval_steps,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
        ),
        train_dataset=train_set,
        eval_dataset=val_set,
        compute_metrics=compute_metrics,
        callbacks=[
            TuneboardCallback(
                uid=args.uid,
                name="reviews-tinybert-finetune",
                model="bert-tiny (from config)",
                dataset="reviews-synthetic-3class",
                tags=["example", "huggingface"],
            )
        ],
    )
    trainer.train()
    final = trainer.evaluate()
    print(f"final validation: accuracy {final['eval_accuracy']:.3f}, F1 {final['eval_f1']:.3f}")
    trainer.save_model(str(output_dir / "final"))
    print(f"saved to {output_dir / 'final'}")


if __name__ == "__main__":
    main()
