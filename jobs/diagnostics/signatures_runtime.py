"""Catalogue rows, first in priority: memory (GPU, host), a full disk, numerics and
distributed failures (their messages quote tensor shapes, so they come before data)."""

from .kinds import (
    BF16_UNSUPPORTED,
    CUDA_OOM,
    DISK_FULL,
    FP16_OVERFLOW,
    FP16_UNSUPPORTED,
    FP16_WEIGHTS,
    HOST_OOM,
    NAN_LOSS,
    NCCL_ERROR,
    NCCL_TIMEOUT,
    PORT_IN_USE,
    RENDEZVOUS,
    SHARED_MEMORY,
    Signature,
)

RUNTIME_SIGNATURES = [
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
]
