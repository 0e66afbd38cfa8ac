"""The one place where the analysis tools convert units: i-PI's atomic units (and the few other units i-PI may
print) to SI.

CODATA 2018, the same values as models/core/units.hpp (Bohr = 0.529177210903 Å, Hartree = 27.211386245988
eV); e, h and k_B are exact in the 2019 SI; epsilon_0 is the CODATA 2018 recommended value. Every other factor
below is derived from these, so nothing is typed twice.

i-PI itself converts with its own 8-digit table (ipi/utils/units.py: 1 Å = 1.8897261 Bohr, 1 K = 3.1668152e-6
Hartree): a quantity that i-PI printed in kelvin or angstrom3 carries a ~1e-8 relative difference from the
CODATA 2018 value. Negligible for dielectric constants; print atomic units to avoid it.
"""

import math

# --- CODATA 2018 (the first two exactly as in models/core/units.hpp) -------------------------------------
BOHR_IN_ANGSTROM = 0.529177210903            # Bohr radius, Å
HARTREE_IN_EV = 27.211386245988              # Hartree energy, eV
ELEMENTARY_CHARGE = 1.602176634e-19          # e, C (exact)
BOLTZMANN = 1.380649e-23                     # k_B, J/K (exact)
PLANCK = 6.62607015e-34                      # h, J s (exact)
VACUUM_PERMITTIVITY = 8.8541878128e-12       # epsilon_0, F/m (CODATA 2018)
SPEED_OF_LIGHT = 299792458.0                 # c, m/s (exact)

# --- derived ---------------------------------------------------------------------------------------------------
ANGSTROM = 1e-10                                          # m
BOHR = BOHR_IN_ANGSTROM * ANGSTROM                        # m
HARTREE = HARTREE_IN_EV * ELEMENTARY_CHARGE               # J
HBAR = PLANCK / (2.0 * math.pi)                           # J s
ATOMIC_TIME = HBAR / HARTREE                              # s (2.4188843265857e-17)
HARTREE_IN_KELVIN = HARTREE / BOLTZMANN                   # K (315775.02480407)
E_BOHR = ELEMENTARY_CHARGE * BOHR                         # C m, i-PI's dipole unit
E_ANGSTROM = ELEMENTARY_CHARGE * ANGSTROM                 # C m

# Unit names as they appear in i-PI's property headers ("temperature{kelvin}"), to SI. No braces = atomic units.
_SI_PREFIX = {"": 1.0, "milli": 1e-3, "micro": 1e-6, "nano": 1e-9, "pico": 1e-12, "femto": 1e-15, "atto": 1e-18}
_UNITS = {
    "temperature": {"atomic_unit": HARTREE_IN_KELVIN, "kelvin": 1.0},                      # -> K
    "volume": {"atomic_unit": BOHR ** 3, "angstrom3": ANGSTROM ** 3},                     # -> m^3
    "length": {"atomic_unit": BOHR, "angstrom": ANGSTROM, "meter": 1.0},                  # -> m
    "time": {"atomic_unit": ATOMIC_TIME, "second": 1.0},                                  # -> s
    "electric-dipole": {"atomic_unit": E_BOHR, "eang": E_ANGSTROM},                       # -> C m
}


def to_si(dimension, unit):
    """Factor that turns a value printed by i-PI in `unit` (None or '' = atomic units) into SI.

    dimension: 'temperature' (K), 'volume' (m^3), 'length' (m), 'time' (s), 'electric-dipole' (C m).
    Raises ValueError for a unit this module does not know (never guesses)."""
    table = _UNITS[dimension]
    name = (unit or "atomic_unit").strip().lower()
    if name in table:
        return table[name]
    for prefix, scale in _SI_PREFIX.items():
        if prefix and name.startswith(prefix) and name[len(prefix):] in table and name[len(prefix):] != "atomic_unit":
            return scale * table[name[len(prefix):]]
    raise ValueError("unknown %s unit '%s' (known: %s, with SI prefixes milli..atto)"
                     % (dimension, unit, ", ".join(sorted(table))))


def e_bohr_to_si(values):
    """Dipoles in e·Bohr (i-PI's unit, what gapd sends) -> C·m."""
    return values * E_BOHR


def si_to_e_angstrom(values):
    """Dipoles in C·m -> e·Å (for plots)."""
    return values / E_ANGSTROM


def angular_frequency_to_thz(omega):
    """rad/s -> THz (nu = omega / 2 pi)."""
    return omega / (2.0 * math.pi) / 1e12


def angular_frequency_to_wavenumber(omega):
    """rad/s -> cm^-1 (nu / c)."""
    return omega / (2.0 * math.pi) / SPEED_OF_LIGHT / 100.0
