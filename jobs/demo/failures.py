"""The demo's failure catalogue: how a simulated job can fail, with realistic errors.

Each entry names the stage where the failure happens and the exception a real trainer
would raise there (type, message, traceback). `{step}` and `{uid}` in the texts are
filled in when the failure is reported.
"""

PY = "/usr/lib/python3.11/site-packages"
FAILURES = {
    "oom": {
        "stage": "training",
        "type": "torch.OutOfMemoryError",
        "message": (
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
            "79.14 GiB of which 1.06 GiB is free. Including non-PyTorch memory, this process "
            "has 78.07 GiB memory in use. Of the allocated memory 75.40 GiB is allocated by "
            "PyTorch, and 2.01 GiB is reserved by PyTorch but unallocated."
        ),
        "traceback": (
            "Traceback (most recent call last):\n"
            '  File "/opt/train/sft.py", line 211, in <module>\n'
            "    trainer.train()\n"
            f'  File "{PY}/transformers/trainer.py", line 2241, in train\n'
            "    return inner_training_loop(\n"
            f'  File "{PY}/transformers/trainer.py", line 2548, in _inner_training_loop\n'
            "    tr_loss_step = self.training_step(model, inputs, num_items_in_batch)\n"
            f'  File "{PY}/accelerate/accelerator.py", line 2329, in backward\n'
            "    loss.backward(**kwargs)\n"
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."
        ),
    },
    "nan": {
        "stage": "training",
        "type": "RuntimeError",
        "message": (
            "Loss is NaN at step {step} (train/loss=nan, grad_norm=inf); "
            "stopping: training diverged."
        ),
        "traceback": (
            "Traceback (most recent call last):\n"
            '  File "/opt/train/lora.py", line 164, in <module>\n'
            "    trainer.train()\n"
            '  File "/opt/train/callbacks.py", line 38, in on_log\n'
            '    raise RuntimeError(f"Loss is NaN at step {{state.global_step}}")\n'
            "RuntimeError: Loss is NaN at step {step} (train/loss=nan, grad_norm=inf); "
            "stopping: training diverged."
        ),
    },
    "tokenizer": {
        "stage": "tokenization",
        "type": "KeyError",
        "message": (
            "'text' — column 'text' not found in dataset; "
            "available columns: ['instruction', 'input', 'output']"
        ),
        "traceback": (
            "Traceback (most recent call last):\n"
            '  File "/opt/train/lora.py", line 97, in <module>\n'
            "    tokenized = dataset.map(tokenize, batched=True)\n"
            '  File "/opt/train/lora.py", line 84, in tokenize\n'
            "    return tokenizer(batch[cfg.text_column], truncation=True)\n"
            "KeyError: 'text'"
        ),
    },
    "disk": {
        "stage": "save_model",
        "type": "OSError",
        "message": "[Errno 28] No space left on device: '/mnt/checkpoints/{uid}/model.safetensors'",
        "traceback": (
            "Traceback (most recent call last):\n"
            '  File "/opt/train/sft.py", line 240, in <module>\n'
            "    trainer.save_model(args.output_dir)\n"
            f'  File "{PY}/safetensors/torch.py", line 286, in save_file\n'
            "    serialize_file(_flatten(tensors), filename, metadata=metadata)\n"
            "OSError: [Errno 28] No space left on device: "
            "'/mnt/checkpoints/{uid}/model.safetensors'"
        ),
    },
}
