"""What the catalogue's findings are: each `Kind` (code, family, title, cause, fix recipe,
documentation page, usual stage) and the `Signature` row that recognises it."""

import re
from dataclasses import dataclass, field

from . import data, infra, resources, setup, training

# --- documentation pages ------------------------------------------------------------------

PT = "https://pytorch.org/docs/stable"
HF = "https://huggingface.co/docs"
DOC_CUDA_MEMORY = f"{PT}/notes/cuda.html#optimizing-memory-usage-with-pytorch-cuda-alloc-conf"
DOC_GPU_PERF = f"{HF}/transformers/perf_train_gpu_one"
DOC_DATALOADER = f"{PT}/data.html#multi-process-data-loading"
DOC_AMP = f"{PT}/amp.html"
DOC_ANOMALY = f"{PT}/autograd.html#anomaly-detection"
DOC_MIXED = f"{HF}/transformers/perf_train_gpu_one#mixed-precision"
DOC_DATASETS_PROCESS = f"{HF}/datasets/process"
DOC_DATASETS_LOAD = f"{HF}/datasets/loading"
DOC_PADDING = f"{HF}/transformers/pad_truncation"
DOC_COLLATOR = f"{HF}/transformers/main_classes/data_collator"
DOC_TRAINER = f"{HF}/transformers/main_classes/trainer"
DOC_GATED = f"{HF}/hub/models-gated"
DOC_HUB_AUTH = f"{HF}/huggingface_hub/quick-start#authentication"
DOC_OFFLINE = f"{HF}/transformers/installation#offline-mode"
DOC_LORA = f"{HF}/peft/developer_guides/troubleshooting"
DOC_BNB = f"{HF}/transformers/quantization/bitsandbytes"
DOC_PEFT_QUANT = f"{HF}/peft/developer_guides/quantization"
DOC_CUDA_SETUP = "https://pytorch.org/get-started/locally/"
DOC_DEEPSPEED = f"{HF}/transformers/deepspeed"
DOC_FSDP = f"{HF}/accelerate/usage_guides/fsdp"
DOC_DEVICES = f"{HF}/accelerate/usage_guides/big_modeling"
DOC_NCCL = "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html"
DOC_TORCHRUN = f"{PT}/elastic/run.html"
DOC_ELASTIC_ERRORS = f"{PT}/elastic/errors.html"
DOC_CHECKPOINTS = f"{HF}/transformers/main_classes/trainer#checkpoints"
DOC_SAVE_LIMIT = f"{HF}/transformers/main_classes/trainer#transformers.TrainingArguments"
DOC_SAFETENSORS = f"{HF}/safetensors/index"
DOC_DOCKER_MEMORY = "https://docs.docker.com/engine/containers/resource_constraints/#memory"
DOC_INSTALL = f"{HF}/transformers/installation"


@dataclass(frozen=True)
class Kind:
    """A finding the catalogue raises: its code (`kind` in the API), the family it belongs
    to, what it is called, why it happens, the fix recipe and the page that explains it."""

    code: str
    family: str
    title: str
    why: str
    fixes: object  # (evidence, match) -> [str]
    doc: str
    stage: str | None = None  # where it usually happens, when the job did not say
    running: bool = False  # also raised on a running job's ERROR lines (an alert)
    evidence: object = None  # (evidence) -> dict of extra facts


@dataclass(frozen=True)
class Signature:
    """One library's wording of a failure: matched on type, message, traceback and the
    last error log lines."""

    id: str
    kind: Kind
    pattern: str
    source: str  # package, file, version(s)
    title: object = None  # str or (evidence, match) -> str; the kind's title otherwise
    fixes: object = None  # a recipe of its own, else the kind's
    when: object = None  # (evidence, match) -> bool: a further condition
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "regex", re.compile(self.pattern, re.IGNORECASE | re.MULTILINE))


# --- kinds, by family ----------------------------------------------------------------------

CUDA_OOM = Kind(
    "cuda_oom",
    "memory",
    "CUDA out of memory",
    "The GPU ran out of memory",
    resources.oom_fixes,
    DOC_CUDA_MEMORY,
    stage="training",
    running=True,
    evidence=resources.oom_evidence,
)
HOST_OOM = Kind(
    "host_oom",
    "memory",
    "Out of host memory (RAM)",
    "The machine's RAM ran out: the process could not allocate or was killed by the kernel",
    resources.host_memory_fixes,
    DOC_DOCKER_MEMORY,
    running=True,
)
SHARED_MEMORY = Kind(
    "shared_memory",
    "memory",
    "Data-loader workers ran out of shared memory",
    "DataLoader workers pass batches through /dev/shm, which is too small here",
    resources.shared_memory_fixes,
    DOC_DATALOADER,
    stage="training",
)
NAN_LOSS = Kind(
    "nan_loss",
    "numerics",
    "Loss became NaN",
    "The optimisation diverged numerically",
    training.nan_fixes,
    DOC_ANOMALY,
    stage="training",
)
FP16_OVERFLOW = Kind(
    "fp16_overflow",
    "numerics",
    "fp16 overflow: the loss scale hit its floor",
    "Gradients overflowed fp16's range at every loss scale",
    training.fp16_overflow_fixes,
    DOC_AMP,
    stage="training",
)
FP16_WEIGHTS = Kind(
    "fp16_weights",
    "numerics",
    "Trainable weights are in fp16",
    "Mixed precision needs float32 master weights, but the trainable weights are float16",
    training.fp16_weights_fixes,
    DOC_AMP,
    stage="training",
)
BF16_UNSUPPORTED = Kind(
    "bf16_unsupported",
    "numerics",
    "bf16 is not supported on this machine",
    "bf16 was asked for, but the GPU (or the lack of one) cannot run it",
    training.bf16_fixes,
    DOC_MIXED,
)
FP16_UNSUPPORTED = Kind(
    "fp16_unsupported",
    "numerics",
    "Half precision without a GPU",
    "fp16 was asked for, but the job runs on a device without half-precision kernels",
    training.fp16_unsupported_fixes,
    DOC_MIXED,
)
DATA_ERROR = Kind(
    "data_error",
    "data",
    "Dataset error",
    "The data could not be read as the training code expects",
    data.path_fixes,
    DOC_DATASETS_LOAD,
    stage="dataset_loading",
)
EMPTY_DATASET = Kind(
    "empty_dataset",
    "data",
    "The dataset is empty",
    "A split has no rows once loaded and filtered",
    data.empty_dataset_fixes,
    DOC_DATASETS_PROCESS,
    stage="dataset_loading",
)
BATCH_MISMATCH = Kind(
    "batch_mismatch",
    "data",
    "Labels do not match the inputs",
    "The labels' shape does not fit what the model predicts",
    data.batch_mismatch_fixes,
    DOC_COLLATOR,
    stage="training",
)
SEQUENCE_TOO_LONG = Kind(
    "sequence_too_long",
    "data",
    "Sequences longer than the model's context",
    "A tokenized sequence is longer than the model's position embeddings",
    data.sequence_length_fixes,
    DOC_PADDING,
    stage="training",
)
EMBEDDING_INDEX = Kind(
    "embedding_index",
    "data",
    "Token or position id outside the embedding table",
    "An id is ≥ the embedding's size: tokens added without resizing, or a sequence past "
    "the position table",
    data.embedding_index_fixes,
    DOC_PADDING,
    stage="training",
)
LABEL_OUT_OF_RANGE = Kind(
    "label_out_of_range",
    "data",
    "Label id out of range (device-side assert)",
    "A label is outside 0…num_classes-1, which CUDA reports as a device-side assert",
    data.label_range_fixes,
    DOC_COLLATOR,
    stage="training",
)
UNPADDED_BATCH = Kind(
    "unpadded_batch",
    "data",
    "Batch of unequal lengths",
    "The examples of a batch have different lengths and nothing pads them",
    data.unpadded_fixes,
    DOC_PADDING,
    stage="training",
)
NO_LOSS = Kind(
    "no_loss",
    "setup",
    "The model returned no loss",
    "The Trainer needs a loss, which the model only computes when given labels",
    setup.no_loss_fixes,
    DOC_TRAINER,
    stage="training",
)
NO_GRAD = Kind(
    "no_grad",
    "setup",
    "Nothing to train: the loss has no gradient",
    "backward() ran on a loss that no trainable parameter contributed to",
    setup.no_grad_fixes,
    DOC_LORA,
    stage="training",
)
HUB_GATED = Kind(
    "hub_gated",
    "setup",
    "Gated or private repository: access denied",
    "The Hub refused to serve the files without an authorised token",
    setup.hub_gated_fixes,
    DOC_GATED,
    stage="dataset_loading",
)
HUB_NOT_FOUND = Kind(
    "hub_not_found",
    "setup",
    "Model or repository not found",
    "The id names no repository (or file) the job can see",
    setup.hub_not_found_fixes,
    DOC_HUB_AUTH,
    stage="dataset_loading",
)
HUB_OFFLINE = Kind(
    "hub_offline",
    "setup",
    "Hugging Face Hub unreachable",
    "The files are not cached and the Hub could not be reached (or is turned off)",
    setup.hub_offline_fixes,
    DOC_OFFLINE,
    stage="dataset_loading",
)
LORA_TARGETS = Kind(
    "lora_target_modules",
    "setup",
    "LoRA target_modules not found in the model",
    "target_modules names modules this model does not have",
    setup.lora_target_fixes,
    DOC_LORA,
)
QUANTIZATION_DEVICE = Kind(
    "quantization_device",
    "setup",
    "Quantised loading needs a CUDA GPU",
    "bitsandbytes 4/8-bit weights need a CUDA GPU with the model entirely on it",
    setup.quantization_fixes,
    DOC_BNB,
)
QUANTIZED_NO_ADAPTERS = Kind(
    "quantized_no_adapters",
    "setup",
    "Quantised model without adapters",
    "Quantised weights cannot be trained directly",
    setup.quantized_adapters_fixes,
    DOC_PEFT_QUANT,
)
GPU_UNAVAILABLE = Kind(
    "gpu_unavailable",
    "setup",
    "No usable GPU",
    "torch cannot use a GPU on this machine",
    setup.gpu_unavailable_fixes,
    DOC_CUDA_SETUP,
)
DEEPSPEED_CONFIG = Kind(
    "deepspeed_config",
    "setup",
    "DeepSpeed configuration error",
    "The DeepSpeed config is missing, unreadable or disagrees with TrainingArguments",
    setup.deepspeed_fixes,
    DOC_DEEPSPEED,
)
FSDP_CONFIG = Kind(
    "fsdp_config",
    "setup",
    "FSDP configuration error",
    "FSDP cannot wrap or flatten the model as configured",
    setup.fsdp_fixes,
    DOC_FSDP,
)
DEVICE_MISMATCH = Kind(
    "device_mismatch",
    "setup",
    "Tensors on different devices",
    "An operation got inputs on two devices (CPU and GPU, or two GPUs)",
    setup.device_mismatch_fixes,
    DOC_DEVICES,
    stage="training",
)
SHAPE_MISMATCH = Kind(
    "shape_mismatch",
    "setup",
    "Weights do not fit the model's shape",
    "A layer or checkpoint has other dimensions than the model expects",
    setup.shape_mismatch_fixes,
    DOC_TRAINER,
)
RESUME_CHECKPOINT = Kind(
    "resume_checkpoint",
    "setup",
    "No valid checkpoint to resume from",
    "resume_from_checkpoint points at no complete checkpoint",
    setup.resume_fixes,
    DOC_CHECKPOINTS,
)
MISSING_PACKAGE = Kind(
    "missing_package",
    "setup",
    "A required package is missing",
    "The environment lacks a package the code path needs",
    setup.missing_package_fixes,
    DOC_INSTALL,
)
NCCL_TIMEOUT = Kind(
    "nccl_timeout",
    "distributed",
    "NCCL collective timed out",
    "A distributed collective did not complete on every rank in time",
    infra.nccl_timeout_fixes,
    DOC_NCCL,
    stage="training",
    running=True,
)
NCCL_ERROR = Kind(
    "nccl_error",
    "distributed",
    "NCCL communication error",
    "The GPUs' communication library failed between ranks",
    infra.nccl_error_fixes,
    DOC_NCCL,
    stage="training",
    running=True,
)
RANK_FAILURE = Kind(
    "rank_failure",
    "distributed",
    "A worker process (rank) failed",
    "One rank exited with an error and the launcher stopped the job",
    infra.rank_failure_fixes,
    DOC_ELASTIC_ERRORS,
)
PORT_IN_USE = Kind(
    "port_in_use",
    "distributed",
    "Rendezvous port already in use",
    "The launcher could not listen on its port: another process holds it",
    infra.port_in_use_fixes,
    DOC_TORCHRUN,
)
RENDEZVOUS = Kind(
    "rendezvous_failed",
    "distributed",
    "Nodes could not rendezvous",
    "Not every node joined the job, or they could not reach the master",
    infra.rendezvous_fixes,
    DOC_TORCHRUN,
)
DISK_FULL = Kind(
    "disk_full",
    "storage",
    "Disk full",
    "Writing failed: the volume is full",
    resources.disk_fixes,
    DOC_SAVE_LIMIT,
    stage="save_model",
    running=True,
)
CHECKPOINT_WRITE = Kind(
    "checkpoint_write",
    "storage",
    "Checkpoint write failed",
    "A checkpoint file could not be written completely",
    resources.checkpoint_write_fixes,
    DOC_CHECKPOINTS,
    stage="save_model",
)
CHECKPOINT_CORRUPT = Kind(
    "checkpoint_corrupt",
    "storage",
    "Checkpoint file is truncated or corrupt",
    "A weights file ends early: it was cut short while being written or downloaded",
    resources.corrupt_checkpoint_fixes,
    DOC_SAFETENSORS,
)
PERMISSION_DENIED = Kind(
    "permission_denied",
    "storage",
    "Permission denied writing files",
    "The job may not write where it tries to (permissions or a read-only volume)",
    resources.permission_fixes,
    DOC_SAVE_LIMIT,
)
PROCESS_KILLED = Kind(
    "process_killed",
    "process",
    "Process killed (SIGKILL, exit 137)",
    "The process was killed from outside, most often for using too much host memory",
    infra.killed_fixes,
    DOC_DOCKER_MEMORY,
)
PREEMPTED = Kind(
    "preempted",
    "process",
    "Stopped from outside (SIGTERM or pre-emption)",
    "The machine or scheduler stopped the job: pre-emption, a time limit, a drain",
    infra.preempted_fixes,
    DOC_CHECKPOINTS,
)
