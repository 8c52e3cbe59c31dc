"""Physics helpers: one kinematics layer and the jet observables.

- :mod:`.kinematics`: four-momenta in torch (coordinates, Minkowski product, angle wrapping,
  beam rotations, longitudinal boosts and the canonical jet frame), used by the model, the
  graph features, the sampler and the ONNX export.
- :mod:`.p4`: the same on numpy/awkward arrays with ``vector`` behaviours (``wrap_phi``,
  ``delta_r``, pT/eta/phi, mass and cartesian momenta, constituent sums), used by the
  simulation, data, sampling, observables and evaluation.
- :mod:`.coords`: JetNet jet-relative coordinates; :mod:`.observables`: jet observables.
"""
