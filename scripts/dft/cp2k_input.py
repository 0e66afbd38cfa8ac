"""CP2K input for one BaTiO3 structure, with the settings of the shared seed dataset.

Settings (see data/README.md and ../shared/data/README.md): GPW, DZVP-MOLOPT-SR-GTH, GTH-PBE pseudopotentials
(Ba q10, Ti q12, O q6) with the PBEsol functional, CUTOFF 1300 Ry, REL_CUTOFF 100, EPS_DEFAULT 1e-12,
EPS_SCF 1e-8, diagonalisation + Broyden mixing, Fermi-Dirac smearing at 300 K, Monkhorst-Pack k-mesh of
about 15.5 A per direction, analytical stress.

`berry_phase=True` writes the dipole variant instead: Gamma point only, OT minimiser without smearing (CP2K's
Berry-phase dipole needs both), and `&MOMENTS PERIODIC` printing the cell dipole.
"""

import math

VALENCE = {"Ba": 10, "Ti": 12, "O": 6}
KMESH_LENGTH_A = 15.5


def kmesh(cell_lengths):
    """Monkhorst-Pack divisions giving about KMESH_LENGTH_A of k-space sampling length per direction."""
    return [max(1, math.ceil(KMESH_LENGTH_A / length - 1e-6)) for length in cell_lengths]


def cp2k_input(atoms, kpts, project="batio3", cutoff_ry=1300, berry_phase=False):
    """Return the CP2K input text. `atoms` is an ase.Atoms with a full 3D cell (rows = lattice vectors, A)."""
    cell = atoms.get_cell()
    lines = [
        "&GLOBAL",
        f"  PROJECT {project}",
        "  RUN_TYPE ENERGY_FORCE",
        "  PRINT_LEVEL MEDIUM",
        "&END GLOBAL",
        "&FORCE_EVAL",
        "  METHOD Quickstep",
    ]
    if not berry_phase:
        lines.append("  STRESS_TENSOR ANALYTICAL")
    lines += [
        "  &DFT",
        "    BASIS_SET_FILE_NAME BASIS_MOLOPT",
        "    POTENTIAL_FILE_NAME GTH_POTENTIALS",
        "    &MGRID",
        f"      CUTOFF {cutoff_ry}",
        "      REL_CUTOFF 100",
        "    &END MGRID",
        "    &QS",
        "      EPS_DEFAULT 1.0E-12",
        "    &END QS",
        "    &SCF",
        "      EPS_SCF 1.0E-8",
    ]
    if berry_phase:
        lines += [
            "      MAX_SCF 50",
            "      SCF_GUESS ATOMIC",
            "      &OT",
            "        MINIMIZER DIIS",
            "        PRECONDITIONER FULL_SINGLE_INVERSE",
            "      &END OT",
            "      &OUTER_SCF",
            "        EPS_SCF 1.0E-8",
            "        MAX_SCF 20",
            "      &END OUTER_SCF",
        ]
    else:
        nel = sum(VALENCE[s] for s in atoms.get_chemical_symbols())
        added = max(20, nel // 10)
        lines += [
            "      MAX_SCF 200",
            "      SCF_GUESS ATOMIC",
            f"      ADDED_MOS {added}",
            "      &SMEAR ON",
            "        METHOD FERMI_DIRAC",
            "        ELECTRONIC_TEMPERATURE [K] 300",
            "      &END SMEAR",
            "      &DIAGONALIZATION",
            "        ALGORITHM STANDARD",
            "      &END DIAGONALIZATION",
            "      &MIXING",
            "        METHOD BROYDEN_MIXING",
            "        ALPHA 0.3",
            "        NBROYDEN 8",
            "      &END MIXING",
        ]
    lines += ["    &END SCF", "    &XC", "      &XC_FUNCTIONAL", "        &PBE",
              "          PARAMETRIZATION PBESOL", "        &END PBE", "      &END XC_FUNCTIONAL", "    &END XC"]
    if berry_phase:
        lines += ["    &PRINT", "      &MOMENTS", "        PERIODIC TRUE", "        REFERENCE COM",
                  "        FILENAME =moments.dat", "      &END MOMENTS", "    &END PRINT"]
    else:
        lines += ["    &KPOINTS", "      SCHEME MONKHORST-PACK {} {} {}".format(*kpts), "      FULL_GRID .FALSE.",
                  "      SYMMETRY .FALSE.", "    &END KPOINTS"]
    lines += ["  &END DFT", "  &SUBSYS", "    &CELL"]
    for name, row in zip("ABC", cell):
        lines.append(f"      {name} {row[0]:.12f} {row[1]:.12f} {row[2]:.12f}")
    lines += ["      PERIODIC XYZ", "    &END CELL", "    &COORD"]
    for s, p in zip(atoms.get_chemical_symbols(), atoms.get_positions()):
        lines.append(f"      {s} {p[0]:.12f} {p[1]:.12f} {p[2]:.12f}")
    lines.append("    &END COORD")
    for s in sorted(set(atoms.get_chemical_symbols())):
        lines += [f"    &KIND {s}", "      BASIS_SET DZVP-MOLOPT-SR-GTH", f"      POTENTIAL GTH-PBE-q{VALENCE[s]}",
                  f"    &END KIND"]
    lines += ["  &END SUBSYS", "  &PRINT", "    &FORCES ON", "    &END FORCES"]
    if not berry_phase:
        lines += ["    &STRESS_TENSOR ON", "    &END STRESS_TENSOR"]
    lines += ["  &END PRINT", "&END FORCE_EVAL", ""]
    return "\n".join(lines)
