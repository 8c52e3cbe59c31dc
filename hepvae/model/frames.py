"""Reference vectors that the model's L-GATr networks receive, given in the canonical frame.

The canonical frame itself (beam rotation and longitudinal boost of each jet) and all other
kinematics live in :mod:`hepvae.physics.kinematics`.
"""

from __future__ import annotations

import torch

#: reference vectors by name, in the canonical frame: the time direction, the beam axis (+z),
#: the jet's transverse direction (+x) and the normal of the jet-beam plane (+y)
REFERENCE_VECTORS = {
    "time": (1.0, 0.0, 0.0, 0.0),
    "beam": (0.0, 0.0, 0.0, 1.0),
    "jet_axis": (0.0, 1.0, 0.0, 0.0),
    "normal": (0.0, 0.0, 1.0, 0.0),
}


def references(names: tuple[str, ...] | list[str], like: torch.Tensor) -> torch.Tensor:
    """The named reference vectors as a tensor [R, 4] with the dtype and device of ``like``."""
    return like.new_tensor([REFERENCE_VECTORS[n] for n in names]).reshape(len(names), 4)
