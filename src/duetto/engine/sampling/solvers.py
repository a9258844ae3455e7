"""Stateful flow-matching ODE solvers (UniPC, Euler) that advance one latent stream along a sigma schedule.

Conventions (Wan / Ovi): x_σ = (1 − σ)·x0 + σ·ε, the network predicts the velocity v = ε − x0, so the clean
estimate at σ is x0 = x_σ − σ·v. One solver instance follows one modality; the joint loop owns one per stream.
To start partway down a schedule (remix from step k), build the solver on `sigmas[k:]`: warm-up and the
lower-order final step then fall where the reference scheduler puts them when it begins at index k.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

SOLVER_NAMES = ("unipc", "euler")


class FlowSolver(ABC):
    """Common state of a solver: the sigmas it walks and how many steps it has taken."""

    def __init__(self, sigmas: Tensor) -> None:
        if sigmas.ndim != 1 or sigmas.numel() < 2:
            raise ValueError(
                f"sigmas must be a 1-D schedule of at least 2 values, got shape {tuple(sigmas.shape)}"
            )
        # Kept on the CPU in float32 as the reference keeps them: the coefficients are then computed at the
        # same precision, and 0-d CPU tensors combine with latents on any device without a transfer.
        sigmas = sigmas.detach().to("cpu", torch.float32)
        if not bool((sigmas[1:] < sigmas[:-1]).all()):
            raise ValueError(
                "sigmas must be strictly decreasing (noisy to clean); build them with flow_sigmas"
            )
        if float(sigmas[-1]) < 0.0 or float(sigmas[0]) > 1.0:
            raise ValueError("sigmas must lie in [0, 1]; build them with flow_sigmas")
        self.sigmas = sigmas
        self.step_index = 0

    @property
    def num_steps(self) -> int:
        """Steps in a full run of this solver (one fewer than its sigmas)."""
        return self.sigmas.numel() - 1

    @property
    def sigma(self) -> Tensor:
        """The noise level of the sample the next `step` expects, as a 0-d float32 tensor."""
        return self.sigmas[min(self.step_index, self.num_steps)]

    def reset(self) -> None:
        """Forget all history and start again from the first sigma."""
        self.step_index = 0

    def step(self, velocity: Tensor, sample: Tensor) -> Tensor:
        """Advance `sample` from sigmas[i] to sigmas[i + 1] given the network's velocity at sigmas[i]."""
        if self.step_index >= self.num_steps:
            raise ValueError(
                f"the solver has already taken all {self.num_steps} steps; call reset() to start over"
            )
        if velocity.shape != sample.shape:
            raise ValueError(
                f"velocity {tuple(velocity.shape)} and sample {tuple(sample.shape)} must have one shape"
            )
        out = self._step(velocity.to(sample.dtype), sample)
        self.step_index += 1
        return out

    @abstractmethod
    def _step(self, velocity: Tensor, sample: Tensor) -> Tensor: ...


class FlowEulerSolver(FlowSolver):
    """First-order Euler steps along the velocity: x_{i+1} = x_i + (σ_{i+1} − σ_i)·v."""

    def _step(self, velocity: Tensor, sample: Tensor) -> Tensor:
        i = self.step_index
        dt = self.sigmas[i + 1] - self.sigmas[i]
        return sample + dt * velocity


def _lambda(sigma: Tensor) -> Tensor:
    """Half log-SNR of the flow path, log(α/σ) with α = 1 − σ; +inf at σ = 0."""
    return torch.log(1 - sigma) - torch.log(sigma)


class FlowUniPCSolver(FlowSolver):
    """UniPC multistep (bh2, data prediction) for flow matching, as Wan2.2 and Ovi sample.

    Each step first corrects the sample it is handed (UniC, using the new x0 estimate at no extra network
    cost), then predicts the next one (UniP) from the last `order` x0 estimates. The first step runs at
    order 1 (no history yet) and so does the last (lower-order final: the step onto σ = 0 would divide by
    an infinite log-SNR gap otherwise, and low orders are steadier at few steps).
    """

    def __init__(self, sigmas: Tensor, order: int = 2) -> None:
        super().__init__(sigmas)
        if not 1 <= order <= 3:
            raise ValueError(f"UniPC order must be 1, 2 or 3, got {order}")
        if float(self.sigmas[0]) >= 1.0:
            raise ValueError(
                "UniPC needs sigmas below 1 (log-SNR is infinite at σ = 1); flow_sigmas starts at 0.999"
            )
        self.order = order
        self.reset()

    def reset(self) -> None:
        super().reset()
        # x0 estimates, oldest first, at most `order` of them; entry j belongs to sigma index
        # step_index - len(history) + j (one estimate per step).
        self._history: list[Tensor] = []
        self._last_sample: Tensor | None = None
        self._last_order = 0

    def _step(self, velocity: Tensor, sample: Tensor) -> Tensor:
        i = self.step_index
        x0 = sample - self.sigmas[i] * velocity
        if self._last_sample is not None:
            # UniC: redo the previous step (i - 1 -> i) with the x0 now known at i as an extra node.
            sample = self._update(self._last_sample, i - 1, self._history, self._last_order, corrector_x0=x0)
        self._history = (self._history + [x0])[-self.order :]
        order = min(self.order, self.num_steps - i, len(self._history))
        self._last_sample = sample
        self._last_order = order
        return self._update(sample, i, self._history, order)

    def _update(
        self, x: Tensor, i: int, history: list[Tensor], order: int, corrector_x0: Tensor | None = None
    ) -> Tensor:
        """One UniPC-bh2 update of `x` from sigmas[i] to sigmas[i + 1].

        `history[-1]` is the x0 estimate at sigmas[i]; `history[-k - 1]` the one at sigmas[i - k], used as
        extra nodes up to `order`. Without `corrector_x0` this is the predictor UniP-`order`; with it (the
        estimate at sigmas[i + 1]) it is the corrector UniC-`order`.
        """
        sigma_s0, sigma_t = self.sigmas[i], self.sigmas[i + 1]
        alpha_t = 1 - sigma_t
        lambda_s0 = _lambda(sigma_s0)
        h = _lambda(sigma_t) - lambda_s0
        hh = -h  # data prediction integrates in -λ
        h_phi_1 = torch.expm1(hh)  # h·φ1(h) = e^h − 1
        b_h = torch.expm1(hh)  # the "bh2" choice of B(h)
        m0 = history[-1]

        # Divided differences of the older x0 estimates, at their relative log-SNR positions r_k.
        rks, d1s = [], []
        for k in range(1, order):
            r_k = (_lambda(self.sigmas[i - k]) - lambda_s0) / h
            rks.append(r_k)
            d1s.append((history[-k - 1] - m0) / r_k)
        rks.append(torch.ones((), dtype=torch.float32))
        rks_t = torch.stack(rks)

        # Right-hand side of the order conditions: b_j = j!·h·φ_{j+1}(h) / B(h), from the φ recursion.
        rows, rhs = [], []
        h_phi_k = h_phi_1 / hh - 1
        factorial = 1
        for j in range(1, order + 1):
            rows.append(rks_t ** (j - 1))
            rhs.append(h_phi_k * factorial / b_h)
            factorial *= j + 1
            h_phi_k = h_phi_k / hh - 1 / factorial
        r_mat, b_vec = torch.stack(rows), torch.stack(rhs)

        base = sigma_t / sigma_s0 * x - alpha_t * h_phi_1 * m0
        if corrector_x0 is None:
            if not d1s:
                return base
            # Order 2 uses the fixed weight 1/2 (UniPC's simplified predictor), higher orders the solve.
            rhos = torch.full((1,), 0.5) if order == 2 else torch.linalg.solve(r_mat[:-1, :-1], b_vec[:-1])
            residual = sum(rho * d for rho, d in zip(rhos, d1s, strict=True))
            return base - alpha_t * b_h * residual

        rhos = torch.full((1,), 0.5) if order == 1 else torch.linalg.solve(r_mat, b_vec)
        residual = sum(rho * d for rho, d in zip(rhos[:-1], d1s, strict=True))
        return base - alpha_t * b_h * (residual + rhos[-1] * (corrector_x0 - m0))


def make_solver(name: str, sigmas: Tensor) -> FlowSolver:
    """A fresh solver by name: "unipc" (order 2, Ovi's default) or "euler"."""
    if name == "unipc":
        return FlowUniPCSolver(sigmas, order=2)
    if name == "euler":
        return FlowEulerSolver(sigmas)
    raise ValueError(f"unknown solver {name!r}; choose one of {', '.join(SOLVER_NAMES)}")
