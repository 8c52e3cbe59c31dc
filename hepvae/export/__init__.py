"""ONNX export of the HyperVAE sampler (``hepvae.export.onnx_export``, needs torch).

The torch-free onnxruntime sampler that reads the exported file is :mod:`hepvae.onnx`.
This package's ``__init__`` imports nothing, so that importing a submodule stays cheap.
"""
