#include "models/fit/gap_kernel_rows.hpp"

#include "models/core/integer_power.hpp"
#include "models/descriptors/gradient_scatter.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <algorithm>
#include <stdexcept>

namespace gapd {

KernelRowsBuilder::KernelRowsBuilder(const GapModel& model, RadialMode mode)
    : hypers_(model.hypers),
      zeta_(model.zeta),
      expansion_(model.hypers, mode),
      power_spectrum_(model.hypers, model.selected_features, model.selected_feature_scales),
      set_of_species_(model.hypers.species.size(), -1) {
    validate(model, "kernel rows");
    for (std::size_t k = 0; k < model.sparse.size(); ++k) {
        const SparseSet& set = model.sparse[k];
        set_of_species_[expansion_.species_index(set.species)] = static_cast<int>(k);
        RowMatrix compressed(set.points.rows(), power_spectrum_.size());
        for (Eigen::Index m = 0; m < set.points.rows(); ++m)
            power_spectrum_.from_full_layout(set.points.row(m).data(), compressed.row(m).data());
        points_.push_back(std::move(compressed));
        offsets_.push_back(columns_);
        columns_ += static_cast<int>(set.points.rows());
    }
}

KernelRows KernelRowsBuilder::rows(const Structure& s, bool gradients) const {
    const int n_atoms = static_cast<int>(s.size());
    const std::vector<int> species_of = expansion_.species_map().indices(s.numbers, "model being fitted");
    const NeighbourList nl = build_neighbour_list(s, hypers_.cutoff.cutoff);
    const int nspecies = static_cast<int>(hypers_.species.size());
    const int S = expansion_.size(), D = power_spectrum_.size();
    const int block_width = S / nspecies;  // coefficients of one neighbour species

    KernelRows out;
    out.energy = Eigen::VectorXd::Zero(columns_);
    // dk_m/dr accumulated transposed (one row per sparse point, contiguous for the scatter), dk_m/d(strain) 3 x 3.
    RowMatrix gradient_t;
    std::vector<Eigen::Matrix3d> strain;
    if (gradients) {
        gradient_t = RowMatrix::Zero(columns_, 3 * n_atoms);
        strain.assign(columns_, Eigen::Matrix3d::Zero());
    }

    ExpansionScratch scratch = expansion_.make_scratch();
    std::vector<double> c(S), x(D), g(D), work(D);
    RowMatrix dC(block_size, S);
    PairJacobian jacobian;
    // The pair gradients of centre i for a block of sparse points (block x 3 n_i, entries grouped by neighbour
    // species as in the Jacobian), and centre i's entries as a neighbour list in that order for the scatter.
    RowMatrix pair_gradients;
    NeighbourList centre;

    for (int i = 0; i < n_atoms; ++i) {
        const int k = set_of_species_[species_of[i]];
        if (k < 0) continue;
        const RowMatrix& T = points_[k];
        const int M = static_cast<int>(T.rows()), offset = offsets_[k];
        expansion_.compute(nl, species_of, i, c.data(), scratch);
        const double norm = power_spectrum_.compute(c.data(), x.data());
        const Eigen::VectorXd kernel = T * Eigen::Map<const Eigen::VectorXd>(x.data(), D);
        for (int m = 0; m < M; ++m) out.energy[offset + m] += integer_power(kernel[m], zeta_);
        if (!gradients) continue;

        expansion_.pair_jacobian(nl, species_of, i, jacobian, scratch);
        const Eigen::Index n_i = static_cast<Eigen::Index>(nl.offsets[i + 1] - nl.offsets[i]);
        centre.offsets.assign(static_cast<std::size_t>(i) + 1, 0);
        centre.offsets.push_back(static_cast<std::size_t>(n_i));
        centre.neighbour.clear();
        centre.vectors.resize(n_i, 3);
        for (const std::vector<std::size_t>& entries : jacobian.entries)
            for (const std::size_t e : entries) {
                centre.vectors.row(static_cast<Eigen::Index>(centre.neighbour.size())) = nl.vectors.row(e);
                centre.neighbour.push_back(nl.neighbour[e]);
            }

        for (int start = 0; start < M; start += block_size) {
            const int B = std::min(block_size, M - start);
            for (int b = 0; b < B; ++b) {
                const int m = start + b;
                const double scale = zeta_ * integer_power(kernel[m], zeta_ - 1);
                for (int d = 0; d < D; ++d) g[d] = scale * T(m, d);
                power_spectrum_.backpropagate(c.data(), x.data(), norm, g.data(), dC.row(b).data(), work.data());
            }
            pair_gradients.resize(B, 3 * n_i);
            Eigen::Index column = 0;
            for (int a = 0; a < nspecies; ++a) {
                const Eigen::Index width = jacobian.blocks[a].cols();
                if (width == 0) continue;
                pair_gradients.middleCols(column, width).noalias() =
                    dC.block(0, a * block_width, B, block_width) * jacobian.blocks[a];
                column += width;
            }
            for (int b = 0; b < B; ++b) {
                double* row = gradient_t.row(offset + start + b).data();
                scatter_pair_gradients(
                    centre, pair_gradients.row(b).data(), [row](int atom, int d) -> double& { return row[3 * atom + d]; },
                    strain[offset + start + b]);
            }
        }
    }
    if (gradients) {
        // Forces -dk/dr; virial -dk/d(strain), symmetrised: xx yy zz yz xz xy.
        out.forces = -gradient_t.transpose();
        out.virial.resize(6, columns_);
        for (int m = 0; m < columns_; ++m) {
            const Eigen::Matrix3d& e = strain[m];
            out.virial.col(m) << -e(0, 0), -e(1, 1), -e(2, 2), -0.5 * (e(1, 2) + e(2, 1)), -0.5 * (e(0, 2) + e(2, 0)),
                -0.5 * (e(0, 1) + e(1, 0));
        }
    }
    return out;
}

}  // namespace gapd
