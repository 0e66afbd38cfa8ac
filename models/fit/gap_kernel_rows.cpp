#include "models/fit/gap_kernel_rows.hpp"

#include "models/core/integer_power.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace gapd {

KernelRowsBuilder::KernelRowsBuilder(const GapModel& model, RadialMode mode)
    : hypers_(model.hypers),
      zeta_(model.zeta),
      expansion_(model.hypers, mode),
      power_spectrum_(model.hypers, model.selected_features),
      radial_(model.hypers, mode),
      harmonics_(model.hypers.max_angular),
      cutoff_(model.hypers.cutoff),
      set_of_species_(model.hypers.species.size(), -1) {
    if (zeta_ < 1) throw std::invalid_argument("kernel rows: zeta must be a positive integer");
    const int full = power_spectrum_size(hypers_);
    for (std::size_t k = 0; k < model.sparse.size(); ++k) {
        const SparseSet& set = model.sparse[k];
        const int a = expansion_.species_index(set.species);
        if (a < 0 || set.points.cols() != full)
            throw std::invalid_argument("kernel rows: sparse set inconsistent with the hyperparameters");
        set_of_species_[a] = static_cast<int>(k);
        RowMatrix compressed(set.points.rows(), power_spectrum_.size());
        for (Eigen::Index m = 0; m < set.points.rows(); ++m)
            power_spectrum_.from_full_layout(set.points.row(m).data(), compressed.row(m).data());
        points_.push_back(std::move(compressed));
        offsets_.push_back(columns_);
        columns_ += static_cast<int>(set.points.rows());
    }
}

KernelRows KernelRowsBuilder::compute(const Structure& s, bool gradients) const {
    const int n_atoms = static_cast<int>(s.size());
    const std::vector<int> species_of = expansion_.species_map().indices(s.numbers, "model being fitted");
    const NeighbourList nl = build_neighbour_list(s, hypers_.cutoff.cutoff);
    const int nmax = hypers_.max_radial, lmax = hypers_.max_angular, nlm = (lmax + 1) * (lmax + 1);
    const int block_width = nlm * nmax;  // coefficients of one neighbour species
    const int nspecies = static_cast<int>(hypers_.species.size());
    const int S = expansion_.size(), D = power_spectrum_.size();

    KernelRows out;
    out.energy = Eigen::VectorXd::Zero(columns_);
    // Accumulated transposed (one row per sparse point): the scatter below then writes contiguous memory.
    RowMatrix forces_t, virial_t;
    if (gradients) {
        forces_t = RowMatrix::Zero(columns_, 3 * n_atoms);
        virial_t = RowMatrix::Zero(columns_, 6);
    }

    ExpansionScratch scratch = expansion_.make_scratch();
    std::vector<double> c(S), x(D), g(D), work(D);
    RowMatrix dC(block_size, S);
    // Per neighbour species a: dc^a/dr for the entries of the current centre (block_width x 3 n_a), their
    // entry indices, and the GEMM result (block x 3 n_a).
    std::vector<RowMatrix> jacobian(nspecies), pair_gradients(nspecies);
    std::vector<std::vector<std::size_t>> entries(nspecies);

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

        // dc^a_{nlm}/dr_ij = (fc' M Y + fc M' Y) r/|r| + fc M grad Y, for every entry of centre i.
        for (auto& e : entries) e.clear();
        for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) entries[species_of[nl.neighbour[e]]].push_back(e);
        for (int a = 0; a < nspecies; ++a) {
            const int n_a = static_cast<int>(entries[a].size());
            jacobian[a].setZero(block_width, 3 * n_a);
            for (int q = 0; q < n_a; ++q) {
                const double* rij = nl.vectors.data() + 3 * entries[a][q];
                const double r = std::sqrt(rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2]);
                double fc, dfc;
                cutoff_.evaluate(r, fc, dfc);
                if (fc == 0.0 && dfc == 0.0) continue;
                radial_.compute(r, scratch.radial.data(), scratch.radial_derivative.data());
                harmonics_.compute(rij, scratch.harmonics.data(), scratch.harmonics_gradient.data());
                for (int l = 0; l <= lmax; ++l) {
                    const double* R = scratch.radial.data() + l * nmax;
                    const double* dR = scratch.radial_derivative.data() + l * nmax;
                    for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) {
                        const double Y = scratch.harmonics[lm];
                        const double* dY = scratch.harmonics_gradient.data() + 3 * lm;
                        for (int n = 0; n < nmax; ++n) {
                            const double radial_part = (dfc * R[n] + fc * dR[n]) * Y / r;
                            double* row = jacobian[a].row(lm * nmax + n).data() + 3 * q;
                            for (int d = 0; d < 3; ++d) row[d] = radial_part * rij[d] + fc * R[n] * dY[d];
                        }
                    }
                }
            }
        }

        for (int start = 0; start < M; start += block_size) {
            const int B = std::min(block_size, M - start);
            for (int b = 0; b < B; ++b) {
                const int m = start + b;
                const double scale = zeta_ * integer_power(kernel[m], zeta_ - 1);
                for (int d = 0; d < D; ++d) g[d] = scale * T(m, d);
                power_spectrum_.backpropagate(c.data(), x.data(), norm, g.data(), dC.row(b).data(), work.data());
            }
            for (int a = 0; a < nspecies; ++a) {
                const int n_a = static_cast<int>(entries[a].size());
                if (n_a == 0) continue;
                pair_gradients[a].resize(B, 3 * n_a);
                pair_gradients[a].noalias() = dC.block(0, a * block_width, B, block_width) * jacobian[a];
                for (int b = 0; b < B; ++b) {
                    double* f = forces_t.row(offset + start + b).data();
                    double* w = virial_t.row(offset + start + b).data();
                    const double* gq = pair_gradients[a].row(b).data();
                    for (int q = 0; q < n_a; ++q) {
                        const std::size_t e = entries[a][q];
                        const double* gv = gq + 3 * q;
                        const double* r = nl.vectors.data() + 3 * e;
                        const int j = nl.neighbour[e];
                        // r_ij = r_j - r_i: F_j -= g, F_i += g; W = -sum g (x) r_ij (symmetrised).
                        for (int d = 0; d < 3; ++d) {
                            f[3 * j + d] -= gv[d];
                            f[3 * i + d] += gv[d];
                        }
                        w[0] -= gv[0] * r[0];
                        w[1] -= gv[1] * r[1];
                        w[2] -= gv[2] * r[2];
                        w[3] -= 0.5 * (gv[1] * r[2] + gv[2] * r[1]);
                        w[4] -= 0.5 * (gv[0] * r[2] + gv[2] * r[0]);
                        w[5] -= 0.5 * (gv[0] * r[1] + gv[1] * r[0]);
                    }
                }
            }
        }
    }
    if (gradients) {
        out.forces = forces_t.transpose();
        out.virial = virial_t.transpose();
    }
    return out;
}

}  // namespace gapd
