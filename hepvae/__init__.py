"""hepvae: a Lorentz-equivariant hypergraph VAE for jet generation."""

__version__ = "0.1.0"

from hepvae.errors import HepvaeError

__all__ = ["HepvaeError", "__version__"]
