"""The catalogue of real failure signatures: how libraries word the errors that end
fine-tuning runs, and what each one means.

`SIGNATURES` is the one table. Each row is a `Signature`: an id, the `Kind` of finding it
raises (the finding's code, family, title, cause, fix recipe, documentation page and the
stage where it usually happens), a regular expression matched against the job's
"type: message" and traceback and its last error log lines, and where the wording comes
from (package, file, version). Rows are in priority order: when several match one
failure, the first wins, so a specific cause (a CUDA OOM inside a torchrun
`ChildFailedError`) comes before the wrapper that reports it. Patterns match the stable
part of a message, so they survive the rewordings between versions (the corpus in
`tests/diagnostics/corpus.json` holds the variants).

Fix recipes live in the family modules (`resources`, `training`, `data`, `setup`,
`infra`) and read the job's config, so a fix names values: "batch 8 → 4".
"""

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

# --- the table ------------------------------------------------------------------------------

SIGNATURES = [
    # memory: GPU
    Signature(
        "torch.cuda_oom",
        CUDA_OOM,
        r"CUDA out of memory",
        "torch c10/cuda/CUDACachingAllocator.cpp (1.x '(GPU 0; … total capacity; …)' and "
        "2.1+ 'GPU 0 has a total capacity of …' wordings)",
    ),
    Signature(
        "torch.cuda_error_oom",
        CUDA_OOM,
        r"CUDA error: out of memory|cudaErrorMemoryAllocation",
        "torch c10/cuda/CUDAException.h C10_CUDA_CHECK (cudaErrorMemoryAllocation)",
    ),
    Signature(
        "torch.out_of_memory_error",
        CUDA_OOM,
        r"\bOutOfMemoryError\b",
        "torch/__init__.py torch.OutOfMemoryError (2.5+); torch.cuda.OutOfMemoryError (1.13–2.4)",
    ),
    Signature(
        "torch.cublas_alloc",
        CUDA_OOM,
        r"CUBLAS_STATUS_ALLOC_FAILED",
        "torch aten/src/ATen/cuda/CublasHandlePool.cpp, CUDABlas.cpp (TORCH_CUDABLAS_CHECK)",
    ),
    Signature(
        "torch.cudnn_alloc",
        CUDA_OOM,
        r"CUDNN_STATUS_ALLOC_FAILED",
        "torch aten/src/ATen/cudnn/Exceptions.h (cuDNN workspace allocation)",
    ),
    Signature(
        "torch.hip_oom",
        CUDA_OOM,
        r"HIP out of memory",
        "torch ROCm build, c10/hip/HIPCachingAllocator.cpp (hipified CUDACachingAllocator)",
        title="GPU out of memory (ROCm)",
    ),
    Signature(
        "torch.mps_oom",
        CUDA_OOM,
        r"MPS backend out of memory",
        "torch aten/src/ATen/mps/MPSAllocator.mm (2.0+)",
        title="GPU out of memory (Apple MPS)",
    ),
    Signature(
        "torch.xpu_oom",
        CUDA_OOM,
        r"XPU out of memory",
        "torch c10/xpu/XPUCachingAllocator.cpp (2.5+)",
        title="GPU out of memory (Intel XPU)",
    ),
    Signature(
        "accelerate.no_executable_batch_size",
        CUDA_OOM,
        r"No executable batch size found, reached zero",
        "accelerate accelerate/utils/memory.py find_executable_batch_size (0.x–1.15.0)",
    ),
    Signature(
        "torch.alloc_conf_hint",
        CUDA_OOM,
        r"PYTORCH_CUDA_ALLOC_CONF=expandable_segments|try setting max_split_size_mb",
        "torch c10/cuda/CUDACachingAllocator.cpp OOM hint (1.x max_split_size_mb; 2.1+ "
        "expandable_segments)",
    ),
    # memory: host
    Signature(
        "torch.cpu_allocator",
        HOST_OOM,
        r"DefaultCPUAllocator: (?:can't allocate memory|not enough memory)",
        "torch c10/core/impl/alloc_cpu.cpp (alloc_cpu)",
    ),
    Signature(
        "python.memory_error",
        HOST_OOM,
        r"^(?:builtins\.)?MemoryError\b",
        "CPython Objects/exceptions.c (MemoryError)",
    ),
    Signature(
        "linux.oom_killer",
        HOST_OOM,
        r"Out of memory: Kill(?:ed)? process|invoked oom-killer|oom-kill:|\bOOMKilled\b",
        "Linux mm/oom_kill.c kernel log; Kubernetes container status reason OOMKilled",
    ),
    Signature(
        "torch.dataloader_worker_killed",
        HOST_OOM,
        r"DataLoader worker \(pid\(?s?\)? ?[\d, ]+\) (?:is killed by signal: Killed|"
        r"exited unexpectedly)",
        "torch torch/utils/data/dataloader.py _try_get_data (2.13) and "
        "torch/csrc/DataLoader.cpp (killed by signal)",
        title="Data-loader worker killed (out of host memory?)",
    ),
    Signature(
        "torch.dataloader_shm",
        SHARED_MEMORY,
        r"insufficient shared memory \(shm\)|out of shared memory|killed by signal: Bus error|"
        r"unable to (?:open|write to) shared memory|"
        r"No space left on device[^\n]*/dev/shm",
        "torch torch/csrc/DataLoader.cpp (bus error handler); torch/lib/libshm",
    ),
    # storage first among the rest: "Error while serializing: … No space left" is a full disk
    Signature(
        "os.enospc",
        DISK_FULL,
        r"No space left on device|\[Errno 28\]|\bENOSPC\b|StorageFull",
        "CPython OSError errno 28 (ENOSPC); safetensors IoError kind StorageFull",
    ),
    Signature(
        "os.edquot",
        DISK_FULL,
        r"Disk quota exceeded|\[Errno 122\]",
        "CPython OSError errno 122 (EDQUOT)",
        title="Disk quota exceeded",
    ),
    # numerics
    Signature(
        "torch.anomaly_nan",
        NAN_LOSS,
        r"Function '\w+' returned nan values in its \d+\w* output",
        "torch torch/csrc/autograd/engine.cpp (detect_anomaly, 1.x–2.13)",
        title="NaN in the backward pass (anomaly detection)",
    ),
    Signature(
        "torch.clip_grad_non_finite",
        NAN_LOSS,
        r"for gradients from `parameters` is non-finite",
        "torch torch/nn/utils/clip_grad.py (error_if_nonfinite=True, 2.13)",
        title="Gradient norm became NaN or infinite",
    ),
    Signature(
        "lightning.loss_not_finite",
        NAN_LOSS,
        r"The loss returned in `training_step` is (?:nan|inf)",
        "lightning pytorch/loops/utilities.py _check_finite_loss (detect_anomaly / 2.x)",
    ),
    Signature(
        "generic.loss_nan",
        NAN_LOSS,
        r"\bloss\b[^\n]{0,40}\b(?:nan|inf)\b|\bnan loss\b",
        "training scripts' own NaN guards (e.g. a Trainer callback raising on "
        "'Loss is NaN'); transformers logs 'loss': nan",
    ),
    Signature(
        "deepspeed.loss_scale_minimum",
        FP16_OVERFLOW,
        r"Current loss scale already at minimum|Minimum loss scale reached",
        "deepspeed deepspeed/runtime/fp16/loss_scaler.py DynamicLossScaler (0.9–0.16)",
    ),
    Signature(
        "torch.unscale_fp16",
        FP16_WEIGHTS,
        r"Attempting to unscale FP16 gradients",
        "torch torch/amp/grad_scaler.py:275 and distributed/fsdp/sharded_grad_scaler.py (2.13)",
    ),
    Signature(
        "transformers.bf16_setup",
        BF16_UNSUPPORTED,
        r"Your setup doesn't support bf16",
        "transformers transformers/training_args.py:1779 (5.24; same wording in 4.3x: "
        "'Your setup doesn't support bf16/gpu.')",
    ),
    Signature(
        "accelerate.bf16_requires",
        BF16_UNSUPPORTED,
        r"bf16 mixed precision requires PyTorch >= [\d.]+ and a supported device",
        "accelerate accelerate/accelerator.py:595 (1.15.0)",
    ),
    Signature(
        "transformers.bf16_ampere",
        BF16_UNSUPPORTED,
        r"bf16[^\n]{0,40}requires[^\n]{0,60}Ampere|"
        r"Bfloat16 is only supported on GPUs with compute capability",
        "transformers training_args.py 4.1x–4.2x ('--bf16 requires Ampere or higher'); "
        "vllm worker ('Bfloat16 is only supported on GPUs with compute capability of at "
        "least 8.0')",
    ),
    Signature(
        "torch.half_not_implemented",
        FP16_UNSUPPORTED,
        r"not implemented for '(?:Half|BFloat16)'",
        "torch aten dispatch (e.g. '\"addmm_impl_cpu_\" not implemented for 'Half'', < 2.1 CPU)",
    ),
    Signature(
        "transformers.fp16_device",
        FP16_UNSUPPORTED,
        r"FP16 Mixed precision training with AMP or APEX \(`--fp16`\)[^\n]*can only be used on|"
        r"fp16 mixed precision requires a GPU",
        "transformers training_args.py 4.x __post_init__; accelerate accelerator.py 0.x",
    ),
    # distributed, before the data rules: its messages quote tensor shapes
    Signature(
        "torch.nccl_watchdog_timeout",
        NCCL_TIMEOUT,
        r"Watchdog caught collective operation timeout",
        "torch torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp (2.x)",
    ),
    Signature(
        "torch.nccl_timeout",
        NCCL_TIMEOUT,
        r"NCCL[^\n]{0,80}time(?:d)? ?out|ProcessGroupNCCL[^\n]{0,80}timeout",
        "torch ProcessGroupNCCL.cpp (1.x 'NCCL communicator was aborted … timed out')",
    ),
    Signature(
        "torch.nccl_system_error",
        NCCL_ERROR,
        r"NCCL error[^\n]*(?:unhandled system error|ncclSystemError)|ncclSystemError",
        "torch torch/csrc/distributed/c10d/NCCLUtils.hpp C10D_NCCL_CHECK (NCCL 2.x)",
    ),
    Signature(
        "torch.nccl_cuda_error",
        NCCL_ERROR,
        r"ncclUnhandledCudaError|unhandled cuda error",
        "torch NCCLUtils.hpp (ncclUnhandledCudaError)",
    ),
    Signature(
        "torch.nccl_remote_error",
        NCCL_ERROR,
        r"ncclRemoteError|remote process exited or there was a network error",
        "NCCL 2.12+ ncclRemoteError via torch NCCLUtils",
    ),
    Signature(
        "torch.nccl_internal",
        NCCL_ERROR,
        r"ncclInternalError|ncclInvalidUsage|DistBackendError: NCCL error",
        "torch NCCLUtils.hpp (ncclInternalError / ncclInvalidUsage; DistBackendError 2.1+)",
    ),
    Signature(
        "torch.tcpstore_address_in_use",
        PORT_IN_USE,
        r"Address already in use|EADDRINUSE|errno: 98\b",
        "torch torch/csrc/distributed/c10d/TCPStoreLibUvBackend.cpp / socket.cpp (2.x)",
    ),
    Signature(
        "torch.tcpstore_listen",
        PORT_IN_USE,
        r"The server socket has failed to listen on",
        "torch torch/csrc/distributed/c10d/socket.cpp (2.13)",
    ),
    Signature(
        "torch.rendezvous_timeout",
        RENDEZVOUS,
        r"RendezvousTimeoutError|Rendezvous (?:timed out|timeout)|"
        r"client socket has timed out after \d+",
        "torch torch/distributed/elastic/rendezvous/api.py (RendezvousTimeoutError); "
        "c10d socket.cpp",
    ),
    Signature(
        "torch.dist_network_error",
        RENDEZVOUS,
        r"DistNetworkError",
        "torch c10/util/Exception.h DistNetworkError (2.1+)",
    ),
    # data
    Signature(
        "datasets.column_to_remove",
        DATA_ERROR,
        r"Column to remove (?P<column>\[[^\]]*\]) not in the dataset",
        "datasets datasets/arrow_dataset.py:3405 map(remove_columns=) (2.x–5.2.0)",
        title=data.column_title,
        fixes=data.column_fixes,
    ),
    Signature(
        "datasets.input_column",
        DATA_ERROR,
        r"Input column (?P<column>\[[^\]]*\]) not in the dataset",
        "datasets datasets/arrow_dataset.py:3395 map(input_columns=) (2.x–5.2.0)",
        title=data.column_title,
        fixes=data.column_fixes,
    ),
    Signature(
        "datasets.columns_not_in_dataset",
        DATA_ERROR,
        r"Columns? (?P<column>\[[^\]]*\]|\S+) not in the dataset",
        "datasets arrow_dataset.py:2920 select_columns/remove_columns and "
        "formatting/formatting.py:562 (KeyError 'Column text not in the dataset') (2.x–5.2.0)",
        title=data.column_title,
        fixes=data.column_fixes,
    ),
    Signature(
        "tuneboard.fixture_column",
        DATA_ERROR,
        r"column '?(?P<column>[^' ]+)'? not (?:found|in)",
        "training scripts that check the column themselves (the fixture's wording)",
        title=data.column_title,
        fixes=data.column_fixes,
    ),
    Signature(
        "python.keyerror_column",
        DATA_ERROR,
        r"^KeyError: (?P<column>'[^'\n]+')",
        "CPython KeyError from a collator or map function (datasets LazyBatch.__getitem__, "
        "dict access in a collator)",
        title=data.column_title,
        fixes=data.column_fixes,
        when=data.column_key_plausible,
    ),
    Signature(
        "transformers.no_matching_columns",
        DATA_ERROR,
        r"No columns in the dataset match the model's forward method signature",
        "transformers transformers/trainer.py:1217 _remove_unused_columns (5.24; 4.x same)",
        title="No dataset column matches the model's inputs",
        fixes=data.unused_columns_fixes,
    ),
    Signature(
        "transformers.pad_token",
        DATA_ERROR,
        r"does not have a padding token|Cannot handle batch sizes > 1 if no padding token",
        "transformers tokenization_utils_base.py:2438 'Asking to pad but the tokenizer does "
        "not have a padding token' (5.24); models/*/modeling_*.py ForSequenceClassification",
        title="Tokenizer has no padding token",
        fixes=data.pad_token_fixes,
    ),
    Signature(
        "python.unicode_decode",
        DATA_ERROR,
        r"UnicodeDecodeError|codec can't decode|invalid (?:start|continuation) byte",
        "CPython Objects/exceptions.c UnicodeDecodeError; datasets json/csv builders",
        title="Dataset file is not valid UTF-8",
        fixes=data.encoding_fixes,
    ),
    Signature(
        "datasets.not_found",
        DATA_ERROR,
        r"Dataset '[^'\n]+' doesn't exist on the Hub|DatasetNotFoundError|"
        r"Couldn't find (?:a dataset|file)|Unable to find '[^'\n]+'",
        "datasets datasets/load.py:1134 DatasetNotFoundError (5.2.0; 2.x 'Couldn't find a "
        "dataset script'); data_files.py:402 'Unable to find'",
        title="Dataset not found",
        fixes=data.path_fixes,
    ),
    Signature(
        "pyarrow.invalid",
        DATA_ERROR,
        r"ArrowInvalid|ArrowTypeError|JSON parse error",
        "pyarrow pyarrow/error.pxi ArrowInvalid (json reader 'JSON parse error: …' in row N)",
        title="Dataset file could not be parsed",
        fixes=data.format_fixes,
    ),
    Signature(
        "datasets.generation_error",
        DATA_ERROR,
        r"Couldn't cast array of type|DatasetGenerationCastError|"
        r"An error occurred while generating the dataset",
        "datasets datasets/table.py:2005 and exceptions.py:87 (5.2.0; 2.x same)",
        title="Dataset file could not be parsed",
        fixes=data.format_fixes,
    ),
    Signature(
        "python.json_decode",
        DATA_ERROR,
        r"JSONDecodeError|Expecting (?:value|property name enclosed in double quotes): line",
        "CPython Lib/json/decoder.py JSONDecodeError",
        title="Dataset file could not be parsed",
        fixes=data.format_fixes,
    ),
    Signature(
        "pandas.csv_tokenizing",
        DATA_ERROR,
        r"Error tokenizing data\. C error: Expected \d+ fields",
        "pandas pandas/_libs/parsers.pyx (used by datasets' csv builder)",
        title="Dataset file could not be parsed",
        fixes=data.format_fixes,
    ),
    Signature(
        "python.file_not_found",
        DATA_ERROR,
        r"FileNotFoundError|No such file or directory",
        "CPython OSError errno 2 (ENOENT)",
        title="Dataset or model path not found",
        fixes=data.path_fixes,
    ),
    Signature(
        "torch.sampler_zero",
        EMPTY_DATASET,
        r"num_samples should be a positive integer value, but got num_samples=0",
        "torch torch/utils/data/sampler.py:150 RandomSampler (2.13; 1.x same)",
    ),
    Signature(
        "datasets.index_out_of_bounds_size_zero",
        EMPTY_DATASET,
        r"is out of bounds for size 0\b|dataset (?:is empty|has no (?:rows|examples))|"
        r"train_dataset is empty",
        "datasets datasets/formatting/formatting.py:568 (5.2.0); trl/Trainer guards",
    ),
    Signature(
        "torch.nll_batch_size",
        BATCH_MISMATCH,
        r"Expected input batch_size \(\d+\) to match target batch_size \(\d+\)",
        "torch aten/src/ATen/native/LossNLL.cpp (2.13; 1.x same)",
    ),
    Signature(
        "torch.bce_target_size",
        BATCH_MISMATCH,
        r"Target size \([^)]*\)\)? must be the same as input size",
        "torch torch/nn/functional.py:3690 binary_cross_entropy_with_logits (2.13)",
    ),
    Signature(
        "transformers.token_indices_too_long",
        SEQUENCE_TOO_LONG,
        r"Token indices sequence length is longer than the specified maximum sequence length"
        r"[^\n]*\(\d+ > \d+\)",
        "transformers tokenization_utils_base.py:3014 (5.24; 4.x same)",
    ),
    Signature(
        "torch.tensor_size_mismatch",
        SEQUENCE_TOO_LONG,
        r"The size of tensor a \(\d+\) must match the size of tensor b \(\d+\) at "
        r"non-singleton dimension",
        "torch aten/src/ATen/ExpandUtils.cpp infer_size (2.13; 1.x same)",
        title="Tensor size mismatch: a sequence longer than the model's context?",
    ),
    Signature(
        "torch.index_out_of_range_in_self",
        EMBEDDING_INDEX,
        r"index out of range in self",
        "torch aten/src/ATen/native/TensorAdvancedIndexing.cpp index_select (embedding, CPU)",
    ),
    Signature(
        "torch.index_select_assert",
        EMBEDDING_INDEX,
        r"Assertion `srcIndex < srcSelectDimSize` failed",
        "torch aten/src/ATen/native/cuda/Indexing.cu indexSelectLargeIndex",
    ),
    Signature(
        "torch.nll_assert_n_classes",
        LABEL_OUT_OF_RANGE,
        r"Assertion `t >= 0 && t < n_classes` failed|Assertion `cur_target >= 0 && "
        r"cur_target < n_classes` failed",
        "torch aten/src/ATen/native/cuda/Loss.cu, NLLLoss2d.cu",
    ),
    Signature(
        "torch.target_out_of_bounds",
        LABEL_OUT_OF_RANGE,
        r"Target -?\d+ is out of bounds",
        "torch aten/src/ATen/native/LossNLL.cpp (CPU)",
    ),
    Signature(
        "torch.device_side_assert",
        LABEL_OUT_OF_RANGE,
        r"device-side assert triggered",
        "torch c10/cuda/CUDAException.cpp 'CUDA error: device-side assert triggered' (1.x–2.13)",
        title="CUDA device-side assert (usually a label id out of range)",
    ),
    Signature(
        "transformers.unable_to_create_tensor",
        UNPADDED_BATCH,
        r"Unable to create tensor, you should probably activate truncation and/or padding",
        "transformers tokenization_utils_base.py:766 (5.24; 4.x same)",
    ),
    Signature(
        "torch.expected_sequence_length",
        UNPADDED_BATCH,
        r"expected sequence of length \d+ at dim \d+ \(got \d+\)",
        "torch torch/csrc/utils/tensor_new.cpp (torch.tensor on ragged lists)",
    ),
    # model and setup
    Signature(
        "transformers.no_loss",
        NO_LOSS,
        r"The model did not return a loss from the inputs",
        "transformers transformers/trainer.py:2201 compute_loss (5.24; 4.x same)",
    ),
    Signature(
        "torch.no_grad_fn",
        NO_GRAD,
        r"element 0 of tensors does not require grad and does not have a grad_fn",
        "torch torch/csrc/autograd/python_engine.cpp / engine.cpp (2.13)",
    ),
    Signature(
        "huggingface_hub.gated",
        HUB_GATED,
        r"Cannot access gated repo|GatedRepoError|is restricted and you are not in the "
        r"authorized list|You are trying to access a gated repo",
        "huggingface_hub huggingface_hub/errors.py:345 GatedRepoError (2.4.0; 0.2x same); "
        "transformers utils/hub.py:611 (5.24)",
    ),
    Signature(
        "huggingface_hub.unauthorized",
        HUB_GATED,
        r"401 Client Error|Invalid (?:user )?token|Invalid credentials in Authorization header",
        "huggingface_hub utils/_http.py hf_raise_for_status (401)",
        title="Hub token missing or invalid",
    ),
    Signature(
        "huggingface_hub.repo_not_found",
        HUB_NOT_FOUND,
        r"Repository Not Found for url|RepositoryNotFoundError",
        "huggingface_hub huggingface_hub/utils/_http.py:947 (2.4.0; 0.2x same)",
    ),
    Signature(
        "transformers.not_a_model_identifier",
        HUB_NOT_FOUND,
        r"is not a local folder and is not a valid model identifier|"
        r"does not appear to have a file named",
        "transformers transformers/utils/hub.py:570 and :471 (5.24; 4.x same)",
    ),
    Signature(
        "huggingface_hub.offline_cache_miss",
        HUB_OFFLINE,
        r"outgoing traffic has been disabled|LocalEntryNotFoundError|"
        r"Cannot find the requested files in the (?:disk|local) cache",
        "huggingface_hub errors.py:478 and _snapshot_download.py:384 (2.4.0)",
    ),
    Signature(
        "huggingface_hub.unreachable",
        HUB_OFFLINE,
        r"We couldn't connect to '?https://huggingface\.co|Couldn't reach '[^'\n]+' on the Hub|"
        r"Failed to resolve '(?:huggingface\.co|cdn-lfs[^']*)'|"
        r"Max retries exceeded with url: /(?:api|[\w-]+/[\w.-]+/resolve)/",
        "transformers utils/hub.py 4.x ('We couldn't connect to …'); datasets load.py:1081 "
        "(5.2.0); urllib3 MaxRetryError via huggingface_hub",
    ),
    Signature(
        "peft.target_modules_not_found",
        LORA_TARGETS,
        r"Target modules .{0,200} not found in the base model",
        "peft peft/tuners/tuners_utils.py:1066, utils/other.py:1130 (0.21.2; 0.4+ same)",
    ),
    Signature(
        "peft.target_module_not_supported",
        LORA_TARGETS,
        r"Target module .{0,200} is not supported\. Currently, only the following modules",
        "peft peft/tuners/lora/model.py _create_new_module (0.x–0.21.2)",
        title="LoRA target_modules names an unsupported layer",
    ),
    Signature(
        "bitsandbytes.library_load",
        QUANTIZATION_DEVICE,
        r"bitsandbytes library load error|CUDA Setup failed despite GPU being available|"
        r"compiled without GPU support",
        "bitsandbytes bitsandbytes/cextension.py:400 (0.50.2); 0.41 cuda_setup/main.py",
    ),
    Signature(
        "transformers.bnb_requires",
        QUANTIZATION_DEVICE,
        r"Using `bitsandbytes` (?:4|8)-bit quantization requires|"
        r"No GPU found\. A GPU is needed for quantization",
        "transformers quantizers/quantizer_bnb_4bit.py:59 (5.24); quantizer_eetq.py:50",
    ),
    Signature(
        "transformers.bnb_dispatched_cpu",
        QUANTIZATION_DEVICE,
        r"Some modules are dispatched on the CPU or the disk",
        "transformers quantizers/quantizer_bnb_4bit.py:75 (5.24; 4.3x same)",
        title="Quantised model does not fit on the GPU",
    ),
    Signature(
        "transformers.purely_quantized",
        QUANTIZED_NO_ADAPTERS,
        r"You cannot perform fine-tuning on purely quantized models",
        "transformers transformers/trainer_utils.py:133 (5.24; 4.3x trainer.py)",
    ),
    Signature(
        "torch.not_compiled_with_cuda",
        GPU_UNAVAILABLE,
        r"Torch not compiled with CUDA enabled|Found no NVIDIA driver on your system|"
        r"CUDA driver version is insufficient for CUDA runtime version|"
        r"No CUDA GPUs are available",
        "torch torch/cuda/__init__.py:522 _lazy_init (2.13); c10/cuda (driver errors)",
    ),
    Signature(
        "transformers.deepspeed_mismatch",
        DEEPSPEED_CONFIG,
        r"Please correct the following DeepSpeed config values that mismatch "
        r"TrainingArguments",
        "transformers transformers/integrations/deepspeed.py trainer_config_finalize (4.x–5.24)",
    ),
    Signature(
        "accelerate.deepspeed_config_path",
        DEEPSPEED_CONFIG,
        r"Expected a string path to an existing deepspeed config",
        "accelerate accelerate/utils/deepspeed.py:155 HfDeepSpeedConfig (1.15.0)",
    ),
    Signature(
        "accelerate.fsdp_layer_class",
        FSDP_CONFIG,
        r"Could not find the transformer layer class .{0,120} in the model",
        "accelerate accelerate/utils/fsdp_utils.py:953, dataclasses.py:2095 (1.15.0)",
    ),
    Signature(
        "torch.fsdp_uniform_requires_grad",
        FSDP_CONFIG,
        r"Must flatten tensors with uniform (?:`requires_grad`|dtype)",
        "torch torch/distributed/fsdp/_flat_param.py:814/823 (2.13)",
    ),
    Signature(
        "torch.same_device",
        DEVICE_MISMATCH,
        r"Expected all tensors to be on the same device",
        "torch aten (TensorIterator / addmm device checks) (1.x–2.13)",
    ),
    Signature(
        "torch.mat_shapes",
        SHAPE_MISMATCH,
        r"mat1 and mat2 shapes cannot be multiplied|size mismatch for [\w.]+: copying a param",
        "torch aten/src/ATen/native/LinearAlgebra.cpp; torch/nn/modules/module.py:2443 "
        "load_state_dict (2.13)",
    ),
    Signature(
        "transformers.resume_checkpoint",
        RESUME_CHECKPOINT,
        r"Can't find a valid checkpoint at|No valid checkpoint found in output directory",
        "transformers transformers/trainer.py:3665 and :1557 (5.24; 4.x same)",
    ),
    Signature(
        "transformers.missing_packages",
        MISSING_PACKAGE,
        r"requires the following packages that were not found in your environment|"
        r"^(?:ModuleNotFoundError|ImportError): No module named '[^']+'|"
        r"requires[^\n]{0,80}`pip install",
        "transformers utils/import_utils.py requires_backends (4.x–5.24); CPython import system",
    ),
    # storage
    Signature(
        "torch.stream_writer",
        CHECKPOINT_WRITE,
        r"PytorchStreamWriter failed writing file|unexpected pos \d+ vs \d+",
        "torch caffe2/serialize/inline_container.cc (torch.save)",
    ),
    Signature(
        "safetensors.serialize",
        CHECKPOINT_WRITE,
        r"Error while serializing|SafetensorError: [^\n]*(?:write|I/?O)",
        "safetensors bindings/python/src/lib.rs serialize_file (0.4–0.8.0)",
    ),
    Signature(
        "torch.stream_reader",
        CHECKPOINT_CORRUPT,
        r"PytorchStreamReader failed reading zip archive|failed finding central directory",
        "torch caffe2/serialize/inline_container.cc (torch.load of a truncated file)",
    ),
    Signature(
        "safetensors.header",
        CHECKPOINT_CORRUPT,
        r"Error while deserializing header: (?:MetadataIncompleteBuffer|HeaderTooLarge|"
        r"InvalidHeader\w*|IncompleteMetadata)",
        "safetensors safetensors/src/tensor.rs SafeTensorError (0.3–0.8.0)",
    ),
    Signature(
        "os.eacces",
        PERMISSION_DENIED,
        r"\[Errno 13\] Permission denied|^PermissionError\b",
        "CPython OSError errno 13 (EACCES)",
    ),
    Signature(
        "os.erofs",
        PERMISSION_DENIED,
        r"\[Errno 30\] Read-only file system",
        "CPython OSError errno 30 (EROFS)",
        title="Read-only file system",
    ),
    # process: signals and launchers, last — they report a cause found above
    Signature(
        "torch.elastic_sigkill",
        PROCESS_KILLED,
        r"Signal 9 \(SIGKILL\) received by PID|Signals\.SIGKILL|exitcode\s*:\s*-9\b",
        "torch torch/distributed/elastic/multiprocessing/api.py (SignalException, 2.x)",
    ),
    Signature(
        "posix.exit_137",
        PROCESS_KILLED,
        r"exit(?:ed)?(?: with)?(?: status| code)?[ :=]*137\b|^\s*Killed\s*$",
        "POSIX: 128 + SIGKILL(9); bash prints 'Killed'",
    ),
    Signature(
        "torch.elastic_sigterm",
        PREEMPTED,
        r"Signal 15 \(SIGTERM\) received by PID|Signals\.SIGTERM|exitcode\s*:\s*-15\b|"
        r"exit(?:ed)?(?: with)?(?: status| code)?[ :=]*143\b|received SIGTERM",
        "torch elastic/multiprocessing/api.py (SignalException); POSIX 128 + SIGTERM(15)",
    ),
    Signature(
        "cloud.preemption",
        PREEMPTED,
        r"\bpre-?empt(?:ed|ion)\b|spot instance (?:interruption|termination)|"
        r"DUE TO (?:TIME LIMIT|PREEMPTION|NODE FAILURE)",
        "GCE/AWS spot interruption notices; Slurm slurmstepd 'CANCELLED AT … DUE TO …'",
    ),
    Signature(
        "torch.elastic_child_failed",
        RANK_FAILURE,
        r"ChildFailedError|Root Cause \(first observed failure\)",
        "torch torch/distributed/elastic/multiprocessing/errors/__init__.py:200 (2.13)",
    ),
    Signature(
        "accelerate.launch_nonzero",
        RANK_FAILURE,
        r"Command '\[[^\]]*\]' returned non-zero exit status \d+",
        "accelerate accelerate/commands/launch.py (CalledProcessError from the launcher)",
    ),
]

SIGNATURES_BY_ID = {sig.id: sig for sig in SIGNATURES}
KINDS = {sig.kind.code: sig.kind for sig in SIGNATURES}


def signature_match(ev, *, running=False):
    """The first signature (in table order) that matches the job's error, else its last
    error log lines: (signature, match, log entry or None), or None.

    A running job has no error yet: only its ERROR/CRITICAL lines are read, and only
    kinds marked `running` count, so a warning never raises an alert.
    """
    signatures = [s for s in SIGNATURES if s.kind.running] if running else SIGNATURES
    if not running and ev.error_text:
        for sig in signatures:
            for match in sig.regex.finditer(ev.error_text):
                if sig.when is None or sig.when(ev, match):
                    return sig, match, None
    entries = ev.error_logs() if running else ev.logs()
    for sig in signatures:
        for entry in reversed(entries):
            match = sig.regex.search(entry.message)
            if match and (sig.when is None or sig.when(ev, match)):
                return sig, match, entry
    return None
