#pragma once
// What the i-PI client needs from a force model. Everything here is in model units (Å, eV, cell rows =
// lattice vectors); the client converts from and to i-PI's atomic units and column convention.

#include "models/core/extras.hpp"
#include "models/core/structure.hpp"

#include <Eigen/Core>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gapd {

// One structure as sent by i-PI, converted to model conventions.
struct Frame {
    Eigen::Matrix3d cell = Eigen::Matrix3d::Zero();  // row k = lattice vector k, Å
    Matrix3N positions;                              // Å, same atom order as the engine's template
};

struct ForceResult {
    double energy = 0;                                        // eV
    Matrix3N forces;                                          // eV/Å, natoms x 3
    Eigen::Matrix3d virial = Eigen::Matrix3d::Zero();         // eV, -stress * V, full symmetric matrix
    // Model units (e.g. "dipole" in e·Å); sent as a JSON object in atomic units (frame_conversion), one space
    // if there are none.
    Extras extras;
    // If set, sent as it is instead of `extras` (still checked for i-PI): for engines that relay replies
    // recorded from another driver, whose exact bytes matter.
    std::optional<std::string> verbatim_extras;
};

class ForceEngine {
public:
    virtual ~ForceEngine() = default;

    // Atoms per frame (from the template). A POSDATA with another count is a fatal error: i-PI would
    // otherwise silently pair our species with the wrong atoms.
    virtual std::size_t natoms() const = 0;

    // Whether compute() uses the cell. If true, a singular cell from i-PI is rejected with a clear
    // error; engines for non-periodic templates return false so i-PI's placeholder cell is accepted.
    virtual bool uses_cell() const { return true; }

    // Called for every INIT: rid is i-PI's global request counter, text its <parameters> string.
    virtual void on_init(int /*request_id*/, const std::string& /*init_text*/) {}

    // May throw std::exception: the client reports it, closes the connection cleanly and exits non-zero.
    virtual ForceResult compute(const Frame& frame) = 0;

    // The frames of one batched request (INIT's batch_size:N), results in the same order. By default one
    // compute() each; engines that evaluate several structures at once more cheaply override it.
    virtual std::vector<ForceResult> compute_batch(const std::vector<Frame>& frames) {
        std::vector<ForceResult> results;
        results.reserve(frames.size());
        for (const Frame& frame : frames) results.push_back(compute(frame));
        return results;
    }
};

}  // namespace gapd
