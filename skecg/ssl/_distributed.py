"""Data-parallel pretraining with torch DistributedDataParallel, launched by ``torchrun``.

Why torch DDP rather than skorch's ``AccelerateMixin``: DDP ships with torch (no extra
dependency; Accelerate is not installed here), it plugs into the skorch fit loop through the
ordinary overrides (``initialize``, ``get_iterator``, ``on_epoch_begin``), and it avoids the
traps probed for Accelerate on CPU (``accelerate launch --cpu`` silently starts one process;
a plain ``Accelerator()`` under ``torchrun`` makes every rank train on everything; its
``prepare(criterion)`` fails on a parameter-free criterion). Under DDP a rank knows its world
only from the ``torchrun`` environment, which this module reads and checks.

What a distributed fit does (``WORLD_SIZE > 1`` in the environment, as ``torchrun`` sets it):

* the process group is initialised from the environment (gloo on CPU, nccl on CUDA) unless the
  caller already did, and destroyed at exit;
* ``batch_size`` stays the *global* batch: each rank loads ``batch_size / world_size`` records,
  so the optimisation (learning rate, schedule length) does not depend on the number of
  processes;
* records are shuffled by a seeded ``DistributedSampler`` (seed and epoch only, also with one
  process), so the global batches are the same for any number of processes;
* the module is wrapped in ``DistributedDataParallel`` (gradients averaged); contrastive losses
  gather the projections of all ranks with gradients (:func:`gather_with_grad`), so NT-Xent and
  SwAV's Sinkhorn see the global batch;
* BatchNorm is converted to ``SyncBatchNorm`` on CUDA for the methods that need global
  statistics (``SSLModule.sync_batchnorm``); torch has no CPU kernel for it, so on CPU each rank
  normalises over its own records (a warning says so);
* the crop/augmentation generator of rank ``r`` is seeded ``seed + r`` (different streams),
  parameters start identical (same seed, and DDP broadcasts rank 0's state);
* the per-batch loss recorded in the history is the mean over ranks, so every rank takes the
  same early-stopping and checkpoint decisions; only rank 0 writes files.
"""

from __future__ import annotations

import atexit
import inspect
import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
from skorch.callbacks import ProgressBar
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

__all__ = [
    "DataParallelMixin",
    "all_reduce_mean",
    "gather_with_grad",
    "is_main_process",
    "rank",
    "torchrun_command",
    "world_size",
]


def world_size() -> int:
    """Number of processes of the initialised default group (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """Rank of this process in the default group (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    """True on rank 0 (or without a process group): the process that writes files."""
    return rank() == 0


def _env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        value = os.environ["WORLD_SIZE"]
        raise ValueError(f"WORLD_SIZE must be an integer; got {value!r}.") from None


def init_process_group_from_env(device: str) -> bool:
    """Initialise the default process group from ``torchrun``'s environment if needed.

    Returns True if this call created the group. Backend: nccl for CUDA, gloo otherwise.
    """
    if _env_world_size() <= 1 or dist.is_initialized():
        return False
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} "
                         "is not set: launch with torchrun (python -m torch.distributed.run).")
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    atexit.register(_destroy_process_group)
    return True


def _destroy_process_group() -> None:
    # without it, gloo's threads can abort the interpreter at exit
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: str) -> str:
    """``"cuda"`` becomes this rank's ``"cuda:LOCAL_RANK"`` in a distributed run."""
    if world_size() > 1 and device == "cuda":
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (same shape on every rank) over ranks along dim 0, keeping gradients.

    The backward sums the gradients of all ranks into each rank's slice, so a loss computed
    identically on every rank from the gathered tensor, with DDP averaging the parameter
    gradients, gets exactly the single-process gradient of that loss. Identity without a
    process group.
    """
    if world_size() == 1:
        return x
    try:
        from torch.distributed._functional_collectives import all_gather_single_autograd
    except ImportError:  # older torch: the (now deprecated) autograd all_gather
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(x.contiguous()))
    return all_gather_single_autograd(x.contiguous(), 0, dist.group.WORLD)


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of the (detached) tensor ``x`` over ranks; ``x`` itself without a process group."""
    if world_size() == 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / world_size()


def torchrun_command(n_processes: int, module_args: list[str]) -> list[str]:
    """Command that runs ``python -m <module_args>`` in ``n_processes`` local processes."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={int(n_processes)}", "-m", *module_args]


class _TrainingLoss(nn.Module):
    """Makes ``module.training_loss`` the forward pass, so DDP sees (and syncs) each step."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x, augment, generator):
        return self.module.training_loss(x, augment, generator)


@dataclass
class _DistributedState:
    ddp: DistributedDataParallel | None
    train_sampler: DistributedSampler | None = None


class DataParallelMixin:
    """Data parallelism for a skorch net that trains an :class:`SSLModule` (see module doc).

    Inert in a single process except for the record order, which comes from a seeded
    ``DistributedSampler`` (``self.seed`` and the epoch) so that it does not depend on the
    number of processes. Expects ``self.seed``, ``self.device`` and ``self.module_``.
    """

    def initialize(self):
        init_process_group_from_env(self.device)
        self.device = rank_device(self.device)
        if not is_main_process():
            self.verbose = 0  # one epoch log, from rank 0
        super().initialize()
        if not is_main_process():
            self.callbacks_ = [(name, cb) for name, cb in self.callbacks_
                               if not isinstance(cb, ProgressBar)]
        self.distributed_ = _DistributedState(ddp=self._wrap_module())
        return self

    def _wrap_module(self) -> DistributedDataParallel | None:
        if world_size() == 1:
            return None
        module = self.module_
        on_cuda = torch.device(self.device).type == "cuda"
        has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
        if getattr(module, "sync_batchnorm", True) and has_bn:
            if on_cuda:
                self.module_ = module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            elif rank() == 0:
                warnings.warn("SyncBatchNorm has no CPU kernel in torch: each process "
                              "normalises BatchNorm over its own records.", stacklevel=3)
        index = torch.device(self.device).index
        # SyncBatchNorm keeps running statistics identical; otherwise each step uses rank 0's
        sync_buffers = not (on_cuda and getattr(module, "sync_batchnorm", True))
        new_name = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        return DistributedDataParallel(
            _TrainingLoss(module),
            device_ids=[index] if on_cuda and index is not None else None,
            find_unused_parameters=getattr(module, "ddp_find_unused_parameters", False),
            **{"forward_sync_buffers" if new_name else "broadcast_buffers": sync_buffers},
        )

    def module_training_loss(self, x, augment, generator) -> torch.Tensor:
        """The module's loss of one batch, through DDP when distributed."""
        state = getattr(self, "distributed_", None)
        if state is not None and state.ddp is not None:
            return state.ddp(x, augment, generator)
        return self.module_.training_loss(x, augment, generator)

    def get_iterator(self, dataset, training=False):
        n_ranks = world_size()
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        if n_ranks > 1 and batch_size % n_ranks:
            raise ValueError(f"batch_size={batch_size} is the global batch and must be divisible "
                             f"by the number of processes ({n_ranks}).")
        shuffle = kwargs.pop("shuffle", False)
        if not training and n_ranks == 1:
            iterator_cls = self.iterator_valid
            return iterator_cls(dataset, batch_size=batch_size, shuffle=shuffle, **kwargs)
        # training: seeded order, identical global batches for any number of processes;
        # validation with several processes: shard (padded to equal sizes for the gathers)
        sampler = DistributedSampler(dataset, num_replicas=n_ranks, rank=rank(),
                                     shuffle=shuffle, seed=self.seed,
                                     drop_last=training and n_ranks > 1)
        if training:
            self.distributed_.train_sampler = sampler
            sampler.set_epoch(len(self.history))
        iterator_cls = self.iterator_train if training else self.iterator_valid
        return iterator_cls(dataset, batch_size=batch_size // n_ranks, sampler=sampler, **kwargs)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        sampler = self.distributed_.train_sampler
        if sampler is not None:
            sampler.set_epoch(len(self.history))

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                             **kwargs)
        if world_size() > 1:  # BatchNorm statistics not synchronised (CPU): average them
            with torch.no_grad():
                for buffer in self.module_.buffers():
                    if buffer.is_floating_point():
                        buffer.copy_(all_reduce_mean(buffer))

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if world_size() > 1:
            local_step = step_fn

            def step_fn(batch, **params):  # history records the loss averaged over ranks
                step = local_step(batch, **params)
                return {**step, "loss": all_reduce_mean(step["loss"])}

        return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)

    def save_params(self, *args, **kwargs):
        """Save as skorch does, on rank 0 only (the other ranks hold identical parameters)."""
        if is_main_process():
            return super().save_params(*args, **kwargs)
        return None
