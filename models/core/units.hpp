#pragma once
// Unit conversion between the model side (Å, eV) and i-PI (atomic units: Bohr, Hartree): its wire and its xyz files.
// CODATA 2018. These literals appear nowhere else in gapd: everything derives from them.
// Wire -> model multiplies by these factors, model -> wire divides by them: one correctly rounded
// operation each way (not a multiplication by a rounded reciprocal), so most values survive a round trip
// bit for bit.

namespace gapd::units {

inline constexpr double kBohrInAngstrom = 0.529177210903;  // CODATA 2018 Bohr radius
inline constexpr double kHartreeInEv = 27.211386245988;    // CODATA 2018 Hartree energy
inline constexpr double kHartreePerBohrInEvPerAngstrom = kHartreeInEv / kBohrInAngstrom;  // force
// Polarization (e/Å^2 -> e/Bohr^2): an inverse area, so model -> wire multiplies by Bohr^2 in Å^2.
inline constexpr double kBohrSquaredInAngstromSquared = kBohrInAngstrom * kBohrInAngstrom;
// Dipoles (e·Å -> e·Bohr) divide by kBohrInAngstrom; charges (Born charges, e) are the same in both systems.

}  // namespace gapd::units
