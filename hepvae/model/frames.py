"""Reference vectors that the model's L-GATr networks receive, given in the model's frame.

The model's frame is the jet's canonical frame (beam rotation and longitudinal boost: the jet
along +x at zero rapidity) and, with ``ModelConfig.orient`` (the default), the oriented frame
(the canonical frame also turned about the jet axis and reflected so that the two leading
constituents lie in fixed half-planes). Both, and all other kinematics, live in
:mod:`hepvae.physics.kinematics`.

The vectors are fixed in the model's frame. In the oriented frame ``beam`` and ``normal`` are
therefore not the physical beam and the normal of the jet-beam plane of each jet: they are
the directions of the leading constituent's and (up to sign) the second constituent's
momentum transverse to the jet axis. The physical beam of a jet is (0, 0, s sin a, cos a)
there, with its own turn a and reflection s (:func:`hepvae.physics.kinematics.orientation`).
"""

from __future__ import annotations

import torch

#: reference vectors by name, in the model's frame: the time direction, +z (the beam axis in
#: the canonical frame; the leading constituent's side in the oriented frame), the jet axis
#: (+x), and +y (the normal of the jet-beam plane in the canonical frame; the second
#: constituent's side in the oriented frame). The names are those of the canonical frame.
REFERENCE_VECTORS = {
    "time": (1.0, 0.0, 0.0, 0.0),
    "beam": (0.0, 0.0, 0.0, 1.0),
    "jet_axis": (0.0, 1.0, 0.0, 0.0),
    "normal": (0.0, 0.0, 1.0, 0.0),
}


def references(names: tuple[str, ...] | list[str], like: torch.Tensor) -> torch.Tensor:
    """The named reference vectors as a tensor [R, 4] with the dtype and device of ``like``."""
    return like.new_tensor([REFERENCE_VECTORS[n] for n in names]).reshape(len(names), 4)
