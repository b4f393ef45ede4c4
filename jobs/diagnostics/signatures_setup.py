"""Catalogue rows after the runtime ones: data, model and setup, storage, and last the
process signals and launchers (they report a cause found above)."""

from . import data
from .kinds import (
    BATCH_MISMATCH,
    CHECKPOINT_CORRUPT,
    CHECKPOINT_WRITE,
    DATA_ERROR,
    DEEPSPEED_CONFIG,
    DEVICE_MISMATCH,
    EMBEDDING_INDEX,
    EMPTY_DATASET,
    FSDP_CONFIG,
    GPU_UNAVAILABLE,
    HUB_GATED,
    HUB_NOT_FOUND,
    HUB_OFFLINE,
    LABEL_OUT_OF_RANGE,
    LORA_TARGETS,
    MISSING_PACKAGE,
    NO_GRAD,
    NO_LOSS,
    PERMISSION_DENIED,
    PREEMPTED,
    PROCESS_KILLED,
    QUANTIZATION_DEVICE,
    QUANTIZED_NO_ADAPTERS,
    RANK_FAILURE,
    RESUME_CHECKPOINT,
    SEQUENCE_TOO_LONG,
    SHAPE_MISMATCH,
    UNPADDED_BATCH,
    Signature,
)

SETUP_SIGNATURES = [
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
