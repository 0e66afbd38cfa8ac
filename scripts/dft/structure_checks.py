"""What the DFT queue, the dataset and the active-learning pools accept as a physical structure.

Two atoms closer than MIN_DISTANCE_A (1.5 Å; the shortest Ti-O bond in BaTiO3 is ~1.7 Å even in MD at 400 K)
mean an unphysical sample: its DFT label (energies of +0.5 eV/atom, forces of 16 eV/Å in the one such cell
generated so far, g0109) describes a region no simulation visits, and a fit that must reproduce it within its
energy regularisation (0.5 meV/atom) gets worse everywhere else (data/models/MODEL_CARD.md, history). md_pool.py drops such MD frames,
run_queue.py does not label such cells and collect.py keeps them out of the dataset.
"""
import numpy as np

MIN_DISTANCE_A = 1.5


def too_close(atoms):
    """A reason ("atoms 1.47 Å apart") if two atoms (periodic images included) are closer than MIN_DISTANCE_A."""
    if len(atoms) < 2:
        return None
    d = atoms.get_all_distances(mic=bool(atoms.pbc.any()))[np.triu_indices(len(atoms), 1)]
    if d.min() < MIN_DISTANCE_A:
        return f"atoms {d.min():.2f} Å apart, below {MIN_DISTANCE_A} Å"
    return None
