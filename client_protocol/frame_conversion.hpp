#pragma once
// The one place where i-PI's conventions meet the model's:
//   wire:  Bohr, Hartree; h row-major with lattice vectors as COLUMNS (h[i][j] = component i of vector j).
//   model: Å, eV; Frame::cell with lattice vectors as ROWS.
// So Frame::cell = h^T * Bohr. Positions, forces and the virial keep their atom-major / row-major layout.

#include "client_protocol/force_engine.hpp"
#include "client_protocol/wire_messages.hpp"

#include <cstddef>

namespace gapd {

// Throws wire::ProtocolError if h or a position is not finite, or if require_invertible_cell and the cell
// is singular. h^-1 is ignored: it is redundant, and infinite when i-PI sends a zero placeholder cell.
Frame frame_from_wire(const wire::WireStructure& structure, bool require_invertible_cell);

// The inverse, as i-PI would send the frame (h^-1 computed from h).
wire::WireStructure frame_to_wire(const Frame& frame);

// Throws std::runtime_error unless the result has natoms x 3 forces, finite energy/forces/virial, and
// extras that i-PI 3.3 can digest (extras_check.hpp; extras_json's errors pass through).
wire::WireResult result_to_wire(const ForceResult& result, std::size_t natoms);

// The inverse (used to replay recorded results through result_to_wire): the extras text becomes
// ForceResult::verbatim_extras.
ForceResult result_from_wire(const wire::WireResult& result);

// The extras as i-PI reads them: a JSON object in atomic units (e·Å -> e·Bohr, e/Å^2 -> e/Bohr^2, e and
// dimensionless values as they are; a Vector as [x, ...], Rows as [[x, ...], ...]), keys in sorted order,
// numbers in shortest round-trip form. No extras: one space, as i-PI's own Fortran driver sends (i-PI reads
// blank extras as {}); a JSON "{}" would do for i-PI but crashes ASE 3.22's SocketIOCalculator, which reads
// >= 2 bytes of extras wrongly. Throws std::runtime_error naming the key and position if a converted value is
// not finite (JSON has no NaN; i-PI would choke or integrate garbage), std::logic_error for a repeated key.
std::string extras_json(const Extras& extras);

}  // namespace gapd
