"""ASE calculator over gapd.Model (docs/python.md).

    from gapd.ase import GapdCalculator
    atoms.calc = GapdCalculator("data/models/batio3_default.gapd", threads=2)
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(), atoms.get_dipole_moment()

Properties (ASE units and signs): energy, free_energy (= energy), energies (per atom), forces, stress (Voigt 6,
eV/Å^3), dipole (e·Å; with a dipole model, computed with every evaluation, as `gapd serve` sends it), and the
per-atom extras, computed only when asked for with `calc.get_property(name, atoms)`:
  partial_dipoles  (N, 3) e·Å, the SA-GPR atomic dipoles (they sum to the dipole)
  cell_dipoles     (N, 3) e·Å, the Ti-centred cell dipole on each B-site atom's row, zeros elsewhere
                   (the layout `gapd predict` writes); cell_dipole_centres: the B-site indices
  born_charges     (N, 3, 3) e, [k, a, b] = dM_a/dr_{k,b}
  novelty          (N,) in [0, 1], how far each environment lies outside the GAP's sparse points (docs/novelty.md)
"""
import numpy as np
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.data import chemical_symbols

from . import Model

_EXTRAS = ("partial_dipoles", "cell_dipoles", "cell_dipole_centres", "born_charges")


class GapdCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress", "dipole", *_EXTRAS, "novelty"]

    def __init__(self, model, dipole_model=None, threads=None, precision="float64", **kwargs):
        """`model`: a gapd model file (native or librascal JSON) or a loaded gapd.Model. Its dipole section, if
        any, gives the dipoles unless `dipole_model` names another file. `threads`: OpenMP threads (None = OpenMP's
        default); `precision`: "float64" or "float32" kernel."""
        Calculator.__init__(self, **kwargs)
        if isinstance(model, Model):
            if dipole_model is not None:
                raise ValueError("GapdCalculator: dipole_model needs a model path, not a loaded gapd.Model")
            self.model = model
            if threads is not None:
                model.threads = threads
            model.precision = precision
        else:
            self.model = Model(str(model), threads=threads or 0, precision=precision,
                               dipole_model=None if dipole_model is None else str(dipole_model))

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        atoms = self.atoms
        props = set(properties)
        dipole_props = props & {"dipole", *_EXTRAS}
        if dipole_props and not self.model.has_dipole_model:
            raise PropertyNotImplementedError(
                f"GapdCalculator: {', '.join(sorted(dipole_props))} need(s) a dipole model; this model has none "
                "(pass dipole_model=FILE)")
        if "novelty" in props and not self.model.has_gap:
            raise PropertyNotImplementedError("GapdCalculator: novelty needs a GAP model; this one has dipoles only")
        if "stress" in props and not (atoms.pbc.all() and abs(atoms.cell.volume) > 0):
            raise PropertyNotImplementedError("GapdCalculator: stress needs a periodic cell on all three axes "
                                              "(pbc=True and a non-zero volume)")
        cell = self._checked_cell(atoms)
        self._check_species(atoms.numbers)
        gradients = bool(props & {"forces", "stress"})
        compute = self.model.compute_with_gradients if gradients else self.model.compute
        r = compute(atoms.positions, atoms.numbers, cell, tuple(bool(p) for p in atoms.pbc),
                    partial_dipoles="partial_dipoles" in props,
                    cell_dipoles=bool(props & {"cell_dipoles", "cell_dipole_centres"}),
                    born_charges="born_charges" in props, novelty="novelty" in props)
        self.results["energy"] = r["energy"]
        self.results["free_energy"] = r["energy"]
        self.results["energies"] = r["energies"]
        if gradients:
            self.results["forces"] = r["forces"]
            if "stress" in r:
                s = r["stress"]
                self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        for key in ("dipole", "partial_dipoles", "born_charges", "novelty"):
            if key in r:
                self.results[key] = r[key]
        if "cell_dipoles" in r:
            per_atom = np.zeros((len(atoms), 3))
            per_atom[r["cell_dipole_centres"]] = r["cell_dipoles"]
            self.results["cell_dipoles"] = per_atom
            self.results["cell_dipole_centres"] = r["cell_dipole_centres"]

    @staticmethod
    def _checked_cell(atoms):
        cell = np.asarray(atoms.cell[:], dtype=float)
        for k in range(3):
            if atoms.pbc[k] and not np.any(cell[k]):
                raise ValueError(f"GapdCalculator: the atoms are periodic along cell vector {k}, which is zero: "
                                 f"give them a cell (atoms.cell) or set atoms.pbc[{k}] = False")
        return cell

    def _check_species(self, numbers):
        known = set(self.model.species)
        unknown = sorted(set(int(z) for z in numbers) - known)
        if unknown:
            names = ", ".join(chemical_symbols[z] if 0 < z < len(chemical_symbols) else str(z) for z in unknown)
            first = next(i for i, z in enumerate(numbers) if z in unknown)
            raise ValueError(f"GapdCalculator: species {names} not in the model (atom {first}; the model knows "
                             f"{', '.join(chemical_symbols[z] for z in sorted(known))})")
