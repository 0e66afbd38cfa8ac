"""The four BaTiO3 phases as starting structures for relaxations (examples/relax_phases*.py).

Each phase is a 5-atom pseudo-cubic cell (Ba corner, Ti body centre, O face centres) with Ti and O displaced
along the phase's polar axis: cubic Pm-3m (none), tetragonal P4mm [001], orthorhombic Amm2 [011], rhombohedral
R3m [111]. The orthorhombic phase also comes as its 10-atom conventional cell (a, a*sqrt2 along [011], a*sqrt2
along [0-11]). The displacements only break the symmetry; the relaxation (with the symmetry fixed) finds the
amplitudes.
"""
import numpy as np
from ase import Atoms
from ase.build import make_supercell

PHASES = {  # name: (space group, polar axis)
    "C": ("Pm-3m", (0, 0, 0)),
    "T": ("P4mm", (0, 0, 1)),
    "O": ("Amm2", (0, 1, 1)),
    "R": ("R3m", (1, 1, 1)),
}
BASIS = [("Ba", (0.0, 0.0, 0.0)), ("Ti", (0.5, 0.5, 0.5)),
         ("O", (0.5, 0.5, 0.0)), ("O", (0.5, 0.0, 0.5)), ("O", (0.0, 0.5, 0.5))]
# Start: Ti +0.08 Å and O -0.04 Å along the polar axis (roughly the soft mode's pattern).
TI_SHIFT, O_SHIFT = 0.08, -0.04


def five_atom_cell(phase, a=4.0):
    axis = np.array(PHASES[phase][1], dtype=float)
    if axis.any():
        axis /= np.linalg.norm(axis)
    symbols = [s for s, _ in BASIS]
    positions = np.array([f for _, f in BASIS]) * a
    positions[1] += TI_SHIFT * axis
    positions[2:] += O_SHIFT * axis
    return Atoms(symbols, positions=positions, cell=np.eye(3) * a, pbc=True)


def ten_atom_orthorhombic(a=4.0):
    """The orthorhombic phase in its conventional Amm2 cell: x, [011] (polar, a*sqrt2), [0-11] (a*sqrt2)."""
    atoms = make_supercell(five_atom_cell("O", a), np.array([[1, 0, 0], [0, 1, 1], [0, -1, 1]]))
    return atoms


def starting_structures(a=4.0):
    """(label, phase, atoms): the four 5-atom cells and the 10-atom orthorhombic cell."""
    out = [(f"{p}5", p, five_atom_cell(p, a)) for p in ("C", "T", "O", "R")]
    out.append(("O10", "O", ten_atom_orthorhombic(a)))
    return out


def pseudo_cubic_parameters(atoms):
    """Lattice lengths (Å) and angles (deg) of the cell, and the volume per formula unit (Å^3)."""
    lengths_angles = atoms.cell.cellpar()
    n_fu = len(atoms) // 5
    return lengths_angles, atoms.get_volume() / n_fu
