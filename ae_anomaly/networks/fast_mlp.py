"""The ``mlp`` kind's fast training step: the one module that uses private torch APIs.

autograd's bookkeeping (a graph per step, a dozen gradient tensors) and ``Adam.step``'s
Python around its fused kernel cost more than the arithmetic of the small MLP at batch 32.
The step here calls, for ``Linear`` + activation layers and the MSE loss, the very kernels
autograd would call, in the same order, and the same fused Adam kernel, so the weights are
bit for bit those of :class:`~ae_anomaly.networks.training.AutogradStepper`
(``tests/networks/test_training.py`` checks it on every run of the suite).

Every private name it needs is listed in :data:`PRIVATE_APIS` and looked up when the module
is imported: on a torch that renamed or dropped one, importing this module raises
:class:`FastPathUnavailableError` naming it (``train_ae.trainer: autograd`` trains without
it); it never falls back silently to other numbers.
"""

from __future__ import annotations

from typing import Any

import torch

from ae_anomaly.core.types import ReportedError
from ae_anomaly.networks.mlp import MLPAutoencoder

#: Every private torch name this module uses, and what for.
PRIVATE_APIS: dict[str, str] = {
    "torch._fused_adam_": "Adam's fused kernel, the one torch.optim.Adam(fused=True) calls",
    "torch._C._nn.leaky_relu": "LeakyReLU's forward kernel without the functional wrapper",
    "torch._C._set_deterministic_algorithms": (
        "the kernels' determinism flag, without importing torch's compiler as the public "
        "torch.use_deterministic_algorithms does"
    ),
    "torch.ops.aten.mse_loss": "the MSE loss kernel autograd runs forward",
    "torch.ops.aten.mse_loss_backward": "the MSE loss gradient autograd runs backward",
    "torch.ops.aten.leaky_relu_backward": "LeakyReLU's gradient kernel",
    "torch.ops.aten.threshold_backward": "ReLU's gradient kernel",
    "torch.ops.aten.elu_backward": "ELU's gradient kernel",
    "torch.ops.aten.tanh_backward": "tanh's gradient kernel",
    "torch.ops.aten.gelu_backward": "GELU's gradient kernel",
    "torch.ops.aten.sigmoid_backward": "sigmoid's gradient kernel",
}


class FastPathUnavailableError(ReportedError):
    """This torch lacks a private kernel the fast path calls."""


def _resolve(dotted: str) -> Any:
    value: Any = torch
    for part in dotted.split(".")[1:]:
        value = getattr(value, part)
    return value


def check_private_apis() -> None:
    """Raise :class:`FastPathUnavailableError` naming every private API this torch lacks."""
    missing = []
    for dotted in PRIVATE_APIS:
        try:
            _resolve(dotted)
        except (AttributeError, RuntimeError):
            missing.append(dotted)
    if missing:
        raise FastPathUnavailableError(
            f"torch {torch.__version__} has no {', '.join(missing)}: the mlp fast path cannot "
            "train bit for bit as autograd would; set train_ae.trainer: autograd"
        )


check_private_apis()


def deterministic_kernels() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` for eager kernels only."""
    torch._C._set_deterministic_algorithms(True, warn_only=True)


class FusedAdam:
    """Adam as ``torch.optim.Adam(..., fused=True)`` computes it, without the Python
    bookkeeping around the kernel.

    The fused kernel updates every tensor in one call, but ``Adam.step`` spends about as long
    again in Python around it (grouping tensors, state lookups, profiling hooks), once per
    mini-batch. :meth:`update` calls the same kernel with the same arguments, so the weights
    are bit for bit those of ``torch.optim.Adam(fused=True)``. Each tensor's gradient is its
    ``grad``; the learning rate is the attribute ``lr``, set before each update.

    It is deliberately not a ``torch.optim.Optimizer``: building one imports torch's compiler
    (``torch._dynamo``), which a ``train_ae`` process that never compiles does not need.
    """

    def __init__(
        self,
        parameters: list[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.parameters = list(parameters)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self._gradients = [parameter.grad for parameter in self.parameters]
        if not self.parameters or any(gradient is None for gradient in self._gradients):
            raise ValueError("FusedAdam needs every tensor's grad set before it is built")
        self._averages = [torch.zeros_like(parameter) for parameter in self.parameters]
        self._square_averages = [torch.zeros_like(parameter) for parameter in self.parameters]
        # torch keeps the step count as a float32 tensor on the parameters' device.
        self._step = torch.zeros((), dtype=torch.float32, device=self.parameters[0].device)
        self._steps = [self._step] * len(self.parameters)

    @torch.no_grad()
    def update(self) -> None:
        """One Adam step from the gradients, in place."""
        beta1, beta2 = self.betas
        self._step += 1
        torch._fused_adam_(
            self.parameters,
            self._gradients,
            self._averages,
            self._square_averages,
            [],
            self._steps,
            lr=self.lr,
            beta1=beta1,
            beta2=beta2,
            weight_decay=self.weight_decay,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )


def _leaky_relu(z: torch.Tensor, slope: float) -> torch.Tensor:
    return torch._C._nn.leaky_relu(z, slope)


_aten = torch.ops.aten

#: Each activation's forward and its derivative as autograd computes it (same ATen kernels):
#: backward(grad, pre-activation, activation output, negative slope) -> grad before it.
_ACTIVATIONS: dict[str, tuple[Any, Any]] = {
    "leaky_relu": (
        _leaky_relu,
        lambda g, z, a, slope: _aten.leaky_relu_backward.default(g, z, slope, False),
    ),
    "relu": (
        lambda z, slope: torch.relu(z),
        lambda g, z, a, slope: _aten.threshold_backward.default(g, a, 0),
    ),
    "elu": (
        lambda z, slope: torch.nn.functional.elu(z),
        lambda g, z, a, slope: _aten.elu_backward.default(g, 1.0, 1, 1, False, z),
    ),
    "tanh": (
        lambda z, slope: torch.tanh(z),
        lambda g, z, a, slope: _aten.tanh_backward.default(g, a),
    ),
    "gelu": (
        lambda z, slope: torch.nn.functional.gelu(z),
        lambda g, z, a, slope: _aten.gelu_backward.default(g, z),
    ),
    "sigmoid": (
        lambda z, slope: torch.sigmoid(z),
        lambda g, z, a, slope: _aten.sigmoid_backward.default(g, a),
    ),
    "identity": (lambda z, slope: z, lambda g, z, a, slope: g),
}

#: Floats per 64 bytes: a multiple of every CPU vector width (4, 8 or 16 floats).
_VECTOR_FLOATS = 16


class _FlatNetwork:
    """The network's parameters as views into one flat tensor (and their gradients into
    another), and one training step written out layer by layer.

    autograd's bookkeeping (a graph per step, a dozen gradient tensors) costs more than the
    arithmetic of this small MLP at batch 32; the step here calls the kernels autograd would
    call for ``Linear`` + activation layers and the MSE loss, in the same order, so every
    gradient is bit for bit the same.
    """

    def __init__(self, model: MLPAutoencoder):
        self.model = model
        parameters = list(model.parameters())
        device = parameters[0].device
        self._sizes = [parameter.numel() for parameter in parameters]
        # Each parameter starts on a 64-byte boundary, as a tensor of its own does: MKL picks
        # its matrix-multiply kernel by the alignment of the output too, and on some CPUs
        # (seen on an AMD EPYC) a misaligned weight gradient rounds differently.
        self._offsets, total = [], 0
        for size in self._sizes:
            total = -(-total // _VECTOR_FLOATS) * _VECTOR_FLOATS
            self._offsets.append(total)
            total += size
        self.values = torch.zeros(total, device=device)
        self.gradients = torch.zeros(total, device=device)
        for parameter, offset, size in zip(parameters, self._offsets, self._sizes, strict=True):
            self.values[offset : offset + size].copy_(parameter.detach().reshape(-1))
            parameter.data = self.values[offset : offset + size].view_as(parameter)
            parameter.grad = self.gradients[offset : offset + size].view_as(parameter)
        self.layers = [
            (
                linear.weight.t(),  # a view: it follows the in-place updates
                linear.bias,
                linear.weight,
                linear.weight.grad,
                linear.bias.grad,
                *_ACTIVATIONS[activation],
            )
            for linear, activation in model.layer_plan()
        ]
        self.slope = model.config.negative_slope
        self._one = torch.ones((), device=device)

    def optimizer_tensors(self) -> list[torch.Tensor]:
        """The parameters as a few long runs of the flat buffer, each with its gradient.

        A fused optimiser then makes a few long passes instead of one per tensor. On CPU it
        computes the last ``size % vector width`` elements of a tensor with scalar code,
        which rounds differently from its vector code; a run therefore ends after any tensor
        whose size is not a multiple of 64 bytes, so every element takes the same code path
        as it would tensor by tensor, and the update is bit for bit the same.
        """
        runs, start = [], None
        for index, (offset, size) in enumerate(zip(self._offsets, self._sizes, strict=True)):
            start = offset if start is None else start
            if size % _VECTOR_FLOATS or index == len(self._sizes) - 1:
                run = self.values[start : offset + size]
                run.grad = self.gradients[start : offset + size]
                runs.append(run)
                start = None
        return runs

    @torch.no_grad()
    def step_gradients(self, batch: torch.Tensor) -> torch.Tensor:
        """Forward, loss and backward for one batch; gradients land in ``self.gradients``."""
        saved = []
        h = batch
        slope = self.slope
        for weight_t, bias, _, _, _, forward, _ in self.layers:
            z = torch.addmm(bias, h, weight_t)
            saved.append((h, z))
            h = forward(z, slope)
            saved[-1] += (h,)
        loss = _aten.mse_loss.default(h, batch, 1)
        grad = _aten.mse_loss_backward.default(self._one, h, batch, 1)
        for index in range(len(self.layers) - 1, -1, -1):
            _, _, weight, weight_grad, bias_grad, _, backward = self.layers[index]
            h, z, a = saved[index]
            grad = backward(grad, z, a, slope)
            torch.mm(grad.t(), h, out=weight_grad)
            torch.sum(grad, 0, out=bias_grad)
            if index:
                grad = grad.mm(weight)
        return loss

    def release(self) -> None:
        """Give every parameter its own storage again (a checkpoint then holds exactly the
        weights, as if trained without the flat buffer)."""
        for parameter in self.model.parameters():
            parameter.data = parameter.data.clone()
            parameter.grad = None


class FlatMLPStepper:
    """The fast :class:`~ae_anomaly.networks.training.Stepper` for :class:`MLPAutoencoder`."""

    def __init__(self, model: MLPAutoencoder, config: Any):
        deterministic_kernels()
        self.network = _FlatNetwork(model)
        self.optimizer = FusedAdam(
            self.network.optimizer_tensors(), lr=config.lr, weight_decay=config.weight_decay
        )

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    def step(self, batch: torch.Tensor) -> torch.Tensor:
        loss = self.network.step_gradients(batch)
        self.optimizer.update()
        return loss

    def snapshot(self) -> torch.Tensor:
        return self.network.values.detach().clone()

    def restore(self, snapshot: torch.Tensor) -> None:
        self.network.values.copy_(snapshot)

    def finish(self) -> None:
        self.network.release()
