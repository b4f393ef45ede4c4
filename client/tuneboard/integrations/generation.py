"""Generating from a model under training without disturbing it: shared by the Hugging
Face and Lightning integrations. Needs `torch` (imported when called) and a Hugging
Face style tokenizer (`tokenizer(text, return_tensors="pt")`, `decode`)."""

import random

__all__ = ["generate_samples", "prompt_of"]


def prompt_of(item):
    """`(prompt, reference or None)` from a prompt string or `{"prompt", "reference"?}`."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict) and isinstance(item.get("prompt"), str):
        reference = item.get("reference")
        return item["prompt"], None if reference is None else str(reference)
    raise ValueError(f'sample_prompts: {item!r} is not a string or {{"prompt", "reference"}}')


def generate_samples(model, tokenizer, prompts, generate_kwargs=None):
    """Outputs of `model` on `[(prompt, reference)]`, one prompt at a time, without
    disturbing training: eval mode and `torch.no_grad()` while generating, then the
    model's training mode and the random number generators (Python, NumPy, torch CPU
    and CUDA) as they were, so the training continues with the same losses."""
    import torch

    options = {"max_new_tokens": 32, "do_sample": False, **(generate_kwargs or {})}
    if options.get("pad_token_id") is None:
        pad = tokenizer.pad_token_id
        options["pad_token_id"] = pad if pad is not None else tokenizer.eos_token_id
    was_training = model.training
    python_state = random.getstate()
    numpy_state = _numpy_rng_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    device = next(model.parameters()).device
    encoder_decoder = bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))
    outputs = []
    try:
        model.eval()
        with torch.no_grad():
            for prompt, _reference in prompts:
                encoded = tokenizer(prompt, return_tensors="pt")
                inputs = {
                    key: value.to(device)
                    for key, value in encoded.items()
                    if key in ("input_ids", "attention_mask")
                }
                generated = model.generate(**inputs, **options)[0]
                if not encoder_decoder:
                    generated = generated[inputs["input_ids"].shape[-1] :]
                outputs.append(tokenizer.decode(generated, skip_special_tokens=True).strip())
    finally:
        model.train(was_training)
        random.setstate(python_state)
        if numpy_state is not None:
            import numpy

            numpy.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
    return outputs


def _numpy_rng_state():
    try:
        import numpy
    except ImportError:
        return None
    return numpy.random.get_state()
