#!/usr/bin/python3
"""scripts/analysis/units.py against hand values (CODATA 2018 tables) and models/core/units.hpp."""

import math
import os
import re

import numpy as np

import analysis_common as common
from analysis_common import close
import units


def test_same_constants_as_units_hpp():
    text = open(os.path.join(common.SOURCE_DIR, "models", "core", "units.hpp")).read()
    bohr = float(re.search(r"kBohrInAngstrom\s*=\s*([0-9.eE+-]+)", text).group(1))
    hartree = float(re.search(r"kHartreeInEv\s*=\s*([0-9.eE+-]+)", text).group(1))
    assert units.BOHR_IN_ANGSTROM == bohr and units.HARTREE_IN_EV == hartree


def test_codata_2018_derived_values():
    close(units.E_BOHR, 8.4783536255e-30, 1e-10, "atomic unit of electric dipole moment (C m)")
    close(units.HARTREE_IN_KELVIN, 3.1577502480407e5, 1e-12, "Hartree in K")
    close(units.ATOMIC_TIME, 2.4188843265857e-17, 1e-12, "atomic unit of time (s)")
    close(units.E_ANGSTROM, 1.602176634e-29, 1e-15, "e*Angstrom (C m)")
    close(units.to_si("volume", None), (0.529177210903e-10) ** 3, 1e-15, "Bohr^3 (m^3)")
    close(units.to_si("volume", "angstrom3"), 1e-30, 1e-15, "angstrom3")


def test_unit_names_and_prefixes():
    assert units.to_si("temperature", "kelvin") == 1.0
    assert units.to_si("temperature", "") == units.HARTREE_IN_KELVIN
    close(units.to_si("time", "picosecond"), 1e-12, 1e-15, "picosecond")
    close(units.to_si("time", "femtosecond"), 1e-15, 1e-15, "femtosecond")
    close(units.to_si("length", "angstrom"), 1e-10, 1e-15, "angstrom")
    for dim, bad in (("temperature", "celsius"), ("volume", "liter"), ("time", "picoatomic_unit")):
        try:
            units.to_si(dim, bad)
        except ValueError as e:
            assert bad in str(e)
        else:
            raise AssertionError("unit %s accepted" % bad)


def test_dipole_and_frequency_conversions():
    # 2 e*Bohr = 2 * 0.529177210903 e*A
    close(float(units.si_to_e_angstrom(units.e_bohr_to_si(np.array(2.0)))), 2 * 0.529177210903, 1e-15, "e*Bohr->e*A")
    w = 2 * math.pi * 1e12                                   # 1 THz
    close(units.angular_frequency_to_thz(w), 1.0, 1e-15, "THz")
    close(units.angular_frequency_to_wavenumber(w), 33.3564095198152, 1e-12, "cm^-1 of 1 THz")


def test_fluctuation_formula_hand_value():
    # M_x = +-1 e*Bohr, V = 1000 A^3, T = 300 K:  eps_xx - 1 = <M_x^2> / (eps0 V kB T), typed out by hand
    import dielectric
    M = np.array([[1.0, 0, 0], [-1.0, 0, 0]]) * 1.602176634e-19 * 0.529177210903e-10
    t = dielectric.fluctuation_tensor(M, np.full(2, 1000e-30), np.full(2, 300.0))
    hand = (1.602176634e-19 * 0.529177210903e-10) ** 2 / (8.8541878128e-12 * 1000e-30 * 1.380649e-23 * 300.0)
    close(t[0, 0], hand, 1e-13, "eps_xx - 1")
    close(hand, 1.960062, 1e-6, "hand value itself")
    assert np.all(t.ravel()[1:] == 0)


if __name__ == "__main__":
    common.main(globals())
