"""The map of what a model learned: each image as the activations of the layer before the model's last
``Linear`` (its "features"), projected to 2-D by PCA; a new input lands among the images it resembles, and its
nearest training images say what it resembles most."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..core.data import normalize
from .inspect import capture_activations, named_layers

__all__ = ["LearnedMap", "feature_layer", "learned_map", "features_of"]


def feature_layer(model: nn.Module) -> str:
    """The layer whose output the model's last ``Linear`` reads: the features it classifies."""
    layers = named_layers(model)
    last = max((i for i, (_, m) in enumerate(layers) if isinstance(m, nn.Linear)), default=None)
    if last is None or last == 0:
        raise ValueError("this model has no layer before a last Linear layer, so there are no features to map")
    return layers[last - 1][0]


def _features(
    model: nn.Module,
    x_u8: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    layer: str,
    batch: int = 500,
) -> Tensor:
    """``(N, D)`` features of the uint8 images ``x_u8`` at ``layer``, in batches."""
    out = [
        capture_activations(model, normalize(x_u8[i : i + batch], mean, std), [layer])[layer].flatten(1)
        for i in range(0, len(x_u8), batch)
    ]
    return torch.cat(out).float()


@dataclass
class LearnedMap:
    """Reference images placed on a 2-D map of the model's features, and what is needed to place another."""

    layer: str
    points: Tensor  # (N, 2) the reference images on the map
    labels: Tensor  # (N,) their classes
    mean_feature: Tensor  # (D,)
    basis: Tensor  # (D, 2) the two principal directions
    explained: float  # share of the features' variance the two directions keep
    neighbour_features: Tensor  # (M, D) training images, for nearest neighbours
    neighbour_index: Tensor  # (M,) their indices in the training split

    def place(self, features: Tensor) -> Tensor:
        """``(N, D)`` features -> ``(N, 2)`` points on the map."""
        return (features - self.mean_feature) @ self.basis

    def nearest(self, features: Tensor, k: int = 5) -> list[int]:
        """Indices (in the training split) of the ``k`` training images whose features are closest to one
        input's ``(D,)`` features."""
        d = torch.cdist(features.view(1, -1), self.neighbour_features)[0]
        return self.neighbour_index[d.topk(min(k, len(d)), largest=False).indices].tolist()


def learned_map(
    model: nn.Module,
    ref_x: Tensor,
    ref_y: Tensor,
    train_x: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    n_ref: int = 1000,
    n_neighbours: int = 2000,
) -> LearnedMap:
    """The map of ``model``'s features over the first ``n_ref`` reference images ``ref_x (N, C, H, W)`` (uint8,
    classes ``ref_y``), with the first ``n_neighbours`` training images kept for nearest neighbours."""
    layer = feature_layer(model)
    feats = _features(model, ref_x[:n_ref], mean, std, layer)
    centre = feats.mean(0)
    _, s, v = torch.pca_lowrank(feats - centre, q=min(6, *feats.shape), center=False)
    basis = v[:, :2]
    total = (feats - centre).square().sum().clamp_min(1e-12)
    explained = float(s[:2].square().sum() / total)
    neighbours = _features(model, train_x[:n_neighbours], mean, std, layer)
    return LearnedMap(
        layer,
        (feats - centre) @ basis,
        ref_y[:n_ref].clone(),
        centre,
        basis,
        min(explained, 1.0),
        neighbours,
        torch.arange(len(neighbours)),
    )


def features_of(
    model: nn.Module,
    m: LearnedMap,
    x_u8: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
) -> Tensor:
    """``(N, D)`` features of new images, at the map's layer."""
    return _features(model, x_u8, mean, std, m.layer)
