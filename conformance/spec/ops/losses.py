"""Losses through ``M.nn.functional`` (issue 16): l1_loss, smooth_l1_loss, huber_loss, kl_div,
binary_cross_entropy, binary_cross_entropy_with_logits; every reduction; gradients to the target too.

l1_loss is not differentiable where input == target (the kink); smooth_l1 and huber are
differentiable once at |input - target| = beta / delta, not twice (smooth2=False).  kl_div's target
is a probability in [0.1, 1] (log_target=False) or a log-probability; binary_cross_entropy's input
is kept in [0.05, 0.95], away from its logarithms' poles.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample

FAMILY = "losses"
F = "M.nn.functional"
TF = "torch.nn.functional."
REDUCTIONS = ["mean", "sum", "none"]
PROB = Domain(0.05, 0.95)
TARGET01 = Domain(0.0, 1.0)
POS = Domain(0.1, 1.0)
LOGP = Domain(-3.0, 0.0)


def _reduce(v: np.ndarray, reduction: str) -> np.ndarray:
    return np.asarray(v.mean() if reduction == "mean" else v.sum() if reduction == "sum" else v)


def _pair(extra: dict[str, list[Any]] | None = None) -> Any:
    def sample(draw: Any) -> Sample:
        shp = S.shape(draw)
        params = {"reduction": draw(st.sampled_from(REDUCTIONS))}
        params.update({k: draw(st.sampled_from(v)) for k, v in (extra or {}).items()})
        return Sample((shp, shp), params)
    return sample


def _diff_kink(points: Any) -> Any:
    def kink(xs: list[np.ndarray], p: dict) -> float:
        d = np.abs(xs[0] - xs[1])
        if d.size == 0:
            return float("inf")
        return min(float(np.min(np.abs(d - q))) for q in points(p))
    return kink


def _smooth_l1(a: np.ndarray, b: np.ndarray, reduction: str, beta: float) -> np.ndarray:
    d = np.abs(a - b)
    return _reduce(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def _huber(a: np.ndarray, b: np.ndarray, reduction: str, delta: float) -> np.ndarray:
    d = np.abs(a - b)
    return _reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def _kl_sample(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    log_target = draw(st.booleans())
    reduction = draw(st.sampled_from(REDUCTIONS + ["batchmean"]))
    return Sample((shp, shp), {"reduction": reduction, "log_target": log_target},
                  domains=(LOGP, LOGP if log_target else POS))


def _kl_ref(a: np.ndarray, t: np.ndarray, reduction: str, log_target: bool) -> np.ndarray:
    v = np.exp(t) * (t - a) if log_target else t * (np.log(t) - a)
    if reduction == "batchmean":
        return np.asarray(v.sum() / a.shape[0])
    return _reduce(v, reduction)


def _bce(a: np.ndarray, t: np.ndarray, reduction: str) -> np.ndarray:
    return _reduce(-(t * np.log(a) + (1.0 - t) * np.log1p(-a)), reduction)


def _bce_logits(a: np.ndarray, t: np.ndarray, reduction: str) -> np.ndarray:
    return _reduce((1.0 - t) * a + np.logaddexp(0.0, -a), reduction)


SPECS = [
    OpSpec(name="l1_loss", family=FAMILY, arity=2, template=f"{F}.l1_loss($x0, $x1, reduction=$reduction)",
           sample=_pair(), reference=lambda a, b, reduction: _reduce(np.abs(a - b), reduction),
           kink=_diff_kink(lambda p: (0.0,)), torch_equivalent=TF + "l1_loss"),
    OpSpec(name="smooth_l1_loss", family=FAMILY, arity=2,
           template=f"{F}.smooth_l1_loss($x0, $x1, reduction=$reduction, beta=$beta)",
           sample=_pair({"beta": [1.0, 0.5]}), reference=_smooth_l1, smooth2=False,
           kink=_diff_kink(lambda p: (p["beta"],)), torch_equivalent=TF + "smooth_l1_loss",
           notes="once differentiable at |d| = beta (kink there for the Hessian checks' sake)"),
    OpSpec(name="huber_loss", family=FAMILY, arity=2,
           template=f"{F}.huber_loss($x0, $x1, reduction=$reduction, delta=$delta)",
           sample=_pair({"delta": [1.0, 0.5, 2.0]}), reference=_huber, smooth2=False,
           kink=_diff_kink(lambda p: (p["delta"],)), torch_equivalent=TF + "huber_loss"),
    OpSpec(name="kl_div", family=FAMILY, arity=2,
           template=f"{F}.kl_div($x0, $x1, reduction=$reduction, log_target=$log_target)", sample=_kl_sample,
           reference=_kl_ref, domains=(LOGP, POS), torch_equivalent=TF + "kl_div",
           notes="input log-probabilities; target probabilities in [0.1, 1] or log-probabilities"),
    OpSpec(name="binary_cross_entropy", family=FAMILY, arity=2,
           template=f"{F}.binary_cross_entropy($x0, $x1, reduction=$reduction)", sample=_pair(), reference=_bce,
           domains=(PROB, TARGET01), torch_equivalent=TF + "binary_cross_entropy"),
    OpSpec(name="binary_cross_entropy_with_logits", family=FAMILY, arity=2,
           template=f"{F}.binary_cross_entropy_with_logits($x0, $x1, reduction=$reduction)", sample=_pair(),
           reference=_bce_logits, domains=(Domain(), TARGET01),
           torch_equivalent=TF + "binary_cross_entropy_with_logits"),
]
