"""The model and its setup: no loss, the Hub (gated, missing, offline), LoRA targets,
quantisation and devices, DeepSpeed/FSDP configuration, checkpoints to resume from.

Fix recipes the catalogue's setup kinds name; each reads the job's config and model id.
"""

import re

from .evidence import config_value, is_lora

# Attention projections by model family, for a LoRA target_modules that matched nothing.
LORA_TARGETS = [
    (r"llama|mistral|mixtral|qwen|gemma|phi-3|yi-|deepseek", "q_proj, k_proj, v_proj, o_proj"),
    (r"falcon|bloom|gpt-neox|pythia|mpt", "query_key_value (and dense)"),
    (r"gpt2|gpt-2|santacoder|starcoder", "c_attn (and c_proj)"),
    (r"t5|flan", "q, v"),
    (r"bert|roberta|deberta|electra", "query, value (deberta: query_proj, value_proj)"),
    (r"opt-|/opt", "q_proj, v_proj"),
]


def model_id(ev):
    return ev.job.base_model or config_value(ev.config, "model_name_or_path", default="")


def no_loss_fixes(ev, match):
    return [
        "Give the model labels: for causal-LM fine-tuning use "
        "DataCollatorForLanguageModeling(tokenizer, mlm=False), which copies input_ids "
        "to labels.",
        "If the dataset has a label column under another name, rename it to 'labels' or set "
        "label_names=[...] in TrainingArguments.",
        "remove_unused_columns drops columns the model's forward() does not take: a custom "
        "model must accept labels= and return a loss.",
    ]


def no_grad_fixes(ev, match):
    c = ev.config
    fixes = [
        "No parameter is trainable or the graph was cut: check "
        "sum(p.requires_grad for p in model.parameters()) > 0 after get_peft_model.",
    ]
    if c.get("gradient_checkpointing"):
        fixes.append(
            "With gradient_checkpointing on a frozen/PEFT model call "
            "model.enable_input_require_grads() (or pass "
            "gradient_checkpointing_kwargs={'use_reentrant': False})."
        )
    fixes.append("Do not compute the loss under torch.no_grad() or on .detach()ed outputs.")
    return fixes


def hub_gated_fixes(ev, match):
    name = model_id(ev) or "the model"
    return [
        f"Request access to {name} on its Hugging Face page and wait for approval.",
        "Authenticate on the training machine: huggingface-cli login, or HF_TOKEN in the "
        "job's environment (a read token of the account that was granted access).",
    ]


def hub_not_found_fixes(ev, match):
    name = model_id(ev) or "the repository id"
    return [
        f"Check the repository id ({name}): owner/name, spelled as on the Hub, and the "
        "revision/branch if one is set.",
        "A private repository looks missing without a token: set HF_TOKEN for an account "
        "that can read it.",
        "A local path must exist on the training machine and hold config.json and weights.",
    ]


def hub_offline_fixes(ev, match):
    name = model_id(ev) or "<repo>"
    return [
        f"Download once where the Hub is reachable (huggingface-cli download {name}) into "
        "the HF_HOME the job uses, then train with HF_HUB_OFFLINE=1.",
        "Or make the Hub reachable from the job: proxy settings (HTTPS_PROXY), DNS, "
        "firewall rules, or a mirror via HF_ENDPOINT.",
    ]


def lora_target_fixes(ev, match):
    name = model_id(ev).lower()
    targets = ev.config.get("target_modules")
    fixes = []
    for pattern, modules in LORA_TARGETS:
        if re.search(pattern, name):
            fixes.append(
                f"{model_id(ev)} names its attention projections {modules}: set "
                f"target_modules to those" + (f" (not {targets})." if targets else ".")
            )
            break
    fixes.append(
        "List the model's module names to choose from: "
        "print({n.split('.')[-1] for n, _ in model.named_modules()}); or use "
        "target_modules='all-linear' (peft ≥ 0.8)."
    )
    return fixes


def quantization_fixes(ev, match):
    return [
        "bitsandbytes 4/8-bit loading needs a CUDA GPU that torch can see: check "
        "torch.cuda.is_available() and run `python -m bitsandbytes` for its diagnosis.",
        "Install bitsandbytes built for this CUDA version (pip install -U bitsandbytes) and "
        "a CUDA build of torch.",
        "If the GPU is too small, device_map='auto' offloads layers to CPU, which 4/8-bit "
        "cannot run: use a bigger GPU or llm_int8_enable_fp32_cpu_offload=True with a "
        "custom device_map.",
    ]


def quantized_adapters_fixes(ev, match):
    return [
        "Attach trainable adapters to the quantised model: "
        "model = get_peft_model(prepare_model_for_kbit_training(model), LoraConfig(...)).",
        "Or load the model unquantised to fine-tune all weights.",
    ]


def gpu_unavailable_fixes(ev, match):
    host = ev.job.host or "the host"
    return [
        f"torch sees no usable GPU on {host}: check nvidia-smi, the driver, and "
        "CUDA_VISIBLE_DEVICES.",
        "Install a torch build for the machine's CUDA (pip index shows +cu121/+cu124 "
        "wheels; a +cpu build has no CUDA at all).",
        "In a container, pass the GPUs through (docker --gpus all, the NVIDIA container "
        "toolkit, or a Kubernetes nvidia.com/gpu limit).",
    ]


def deepspeed_fixes(ev, match):
    return [
        'Set the values the Trainer also sets to "auto" in the DeepSpeed config '
        "(train_micro_batch_size_per_gpu, gradient_accumulation_steps, lr, fp16/bf16), "
        "so they cannot disagree with TrainingArguments.",
        "Pass the config as a path that exists on every node (or as a dict), and check it "
        "parses: python -c \"import json; json.load(open('ds_config.json'))\".",
    ]


def fsdp_fixes(ev, match):
    name = model_id(ev) or "the model"
    return [
        f"fsdp_transformer_layer_cls_to_wrap must name {name}'s decoder layer class "
        "(e.g. LlamaDecoderLayer, MistralDecoderLayer, GPT2Block): print(model) shows it.",
        "With frozen and trainable weights mixed (LoRA), set use_orig_params=True "
        "(fsdp_use_orig_params) so FSDP can flatten them.",
    ]


def device_mismatch_fixes(ev, match):
    return [
        "Let the Trainer/Accelerate place tensors: do not call model.to(...) after loading "
        "with device_map='auto', and move batches with batch.to(model.device).",
        "Tensors created inside forward() need device=x.device; buffers registered with "
        "register_buffer follow the module.",
    ]


def shape_mismatch_fixes(ev, match):
    return [
        "The checkpoint's head does not fit this task: load with "
        "ignore_mismatched_sizes=True and the right num_labels.",
        "Check that the model, tokenizer and checkpoint are the same architecture and size.",
    ]


def resume_fixes(ev, match):
    out = ev.config.get("output_dir") or "output_dir"
    return [
        f"Point resume_from_checkpoint at a complete checkpoint-N folder in {out} (it holds "
        "trainer_state.json and the weights), or leave it unset for a fresh start.",
        "A checkpoint cut short by a crash during save has no trainer_state.json: delete it "
        "and resume from the one before.",
    ]


def missing_package_fixes(ev, match):
    name = re.search(r"No module named '([^']+)'|install[^\n]*?(\b[\w-]+)", match.group(0))
    package = next((g for g in (name.groups() if name else ()) if g), None)
    fixes = [
        (f"Install {package} in the training environment" if package else "Install it")
        + " (pip install ...), in the same virtualenv/container the job runs in.",
        "Pin the versions that work together (torch, transformers, accelerate, peft, "
        "bitsandbytes) in a requirements file the job installs.",
    ]
    if is_lora(ev.config) and package is None:
        fixes.append("LoRA needs peft; QLoRA also needs bitsandbytes and accelerate.")
    return fixes
