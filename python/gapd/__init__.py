"""gapd from Python: SOAP-GAP energies, forces and stress and SA-GPR dipoles of a gapd model (docs/python.md).

    import gapd
    model = gapd.Model("data/models/batio3_default.gapd", threads=2)
    r = model.compute_with_gradients(atoms.positions, atoms.numbers, atoms.cell[:], atoms.pbc)
    r["energy"], r["forces"], r["stress"], r["dipole"]

`gapd.Model` is the compiled C++ API (<gapd/gapd.hpp>); `gapd.ase.GapdCalculator` wraps it for ASE.
"""
from ._gapd import Model, __version__

__all__ = ["Model", "__version__"]
