#include "models/dipoles/dipole_calculator.hpp"

#include "models/descriptors/gradient_scatter.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/core/integer_power.hpp"
#include "models/core/phase_clock.hpp"
#include "models/core/thread_rows.hpp"

#include <Eigen/Dense>
#include <set>
#include <sstream>
#include <stdexcept>

namespace gapd {

DipoleCalculator::DipoleCalculator(DipoleModel model, RadialMode mode)
    : model_(std::move(model)),
      mode_(mode),
      expansion_(model_.hypers, mode),
      lambda1_(model_.hypers, model_.inversion_symmetry),
      power_spectrum_(model_.hypers) {
    validate(model_);
    const int Q = lambda1_.triplets();
    for (const DipoleSparseSet& set : model_.sparse) {
        const Eigen::Index M = set.points.rows();
        RowMatrix V = RowMatrix::Zero(M, Q);
        for (Eigen::Index j = 0; j < M; ++j)
            for (int q = 0; q < Q; ++q)
                for (int b = 0; b < 3; ++b) V(j, q) += set.points(j, 3 * q + b) * set.weights(j, b);
        summed_.push_back(V.colwise().sum().transpose());
        contracted_.push_back(std::move(V));
    }
}

std::vector<int> DipoleCalculator::species_indices(const Structure& s) const {
    return expansion_.species_map().indices(s.numbers, "dipole model");
}

RowMatrix DipoleCalculator::features(const Structure& s) const {
    const std::vector<int> species_of = species_indices(s);
    return centre_features(expansion_, lambda1_, build_neighbour_list(s, cutoff()), species_of);
}

RowMatrix DipoleCalculator::scalar_features(const Structure& s) const {
    const std::vector<int> species_of = species_indices(s);
    return centre_features(expansion_, power_spectrum_, build_neighbour_list(s, cutoff()), species_of);
}

DipolePrediction DipoleCalculator::compute(const Structure& s, bool gradients, DipolePhaseTimes* times) const {
    if (times) *times = DipolePhaseTimes{};
    PhaseClock<DipolePhaseTimes> clock(times);
    const std::vector<int> species_of = species_indices(s);
    const NeighbourList nl = build_neighbour_list(s, cutoff());
    clock.lap(&DipolePhaseTimes::neighbours);

    const int n_atoms = static_cast<int>(s.size());
    const int S = expansion_.size();
    const int F = lambda1_.size();
    const int D = power_spectrum_.size();
    const bool scalar = model_.kernel == DipoleKernel::LinearTimesScalar;
    const int zeta = model_.zeta;

    DipolePrediction out;
    out.partial = Matrix3N::Zero(n_atoms, 3);
    for (int i = 0; i < n_atoms; ++i) {
        const auto b = model_.baseline.find(s.numbers[i]);
        if (b != model_.baseline.end()) out.partial.row(i) = b->second.transpose();
    }
    // dM_a/dr_ij of every neighbour entry, one array per component a of M.
    std::array<std::vector<double>, 3> pair_gradients;
    if (gradients)
        for (auto& p : pair_gradients) p.assign(3 * nl.size(), 0.0);

    RowMatrix C, A, X, U;
    std::array<RowMatrix, 3> Gx;  // dM_a/dX per component a (B x D)
    Eigen::VectorXd normsA, normsX;
    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const DipoleSparseSet& set = model_.sparse[k];
        const RowMatrix& V = contracted_[k];
        const Eigen::VectorXd& u = summed_[k];
        std::vector<int> centres;
        for (int i = 0; i < n_atoms; ++i)
            if (s.numbers[i] == set.species) centres.push_back(i);

        for (std::size_t start = 0; start < centres.size(); start += chunk_size) {
            const int B = static_cast<int>(std::min<std::size_t>(chunk_size, centres.size() - start));
            const int* chunk = centres.data() + start;
            C.resize(B, S);
            A.resize(B, F);
            normsA.resize(B);
            if (scalar) {
                X.resize(B, D);
                normsX.resize(B);
            }
#pragma omp parallel
            {
                ExpansionScratch scratch = expansion_.make_scratch();
#pragma omp for schedule(static)
                for (int b = 0; b < B; ++b) expansion_.compute(nl, species_of, chunk[b], C.row(b).data(), scratch);
            }
            clock.lap(&DipolePhaseTimes::expansion);
#pragma omp parallel for schedule(static)
            for (int b = 0; b < B; ++b) {
                normsA[b] = lambda1_.compute(C.row(b).data(), A.row(b).data());
                if (scalar) normsX[b] = power_spectrum_.compute(C.row(b).data(), X.row(b).data());
            }
            clock.lap(&DipolePhaseTimes::features);

            if (!scalar) {
                // mu_i,a = sum_q A_i[3q+a] u[q].
                for (int a = 0; a < 3; ++a) {
                    const Eigen::VectorXd mu = triplet_component(A, a) * u;
                    for (int b = 0; b < B; ++b) out.partial(chunk[b], a) += mu[b];
                }
            } else {
                // S = (X T^T)^(zeta-1), U = S V: mu_i,a = sum_j S_ij sum_q A_i[3q+a] V_j[q] = sum_q A_i[3q+a] U_i[q].
                // Each thread runs the GEMMs serially on its own rows (models/core/thread_rows.hpp).
                U.resize(B, V.cols());
                if (gradients)
                    for (auto& g : Gx) g.resize(B, D);
#pragma omp parallel
                {
                    const auto [t, b0, b1] = thread_rows(B);
                    (void)t;
                    if (b1 > b0) {
                        const int nb = b1 - b0;
                        const RowMatrix Kt = X.middleRows(b0, nb) * set.scalar_points.transpose();
                        const RowMatrix Sk = Kt.unaryExpr([zeta](double v) { return integer_power(v, zeta - 1); });
                        U.middleRows(b0, nb).noalias() = Sk * V;
                        if (gradients) {
                            // Besides dM_a/dA_i[3q+c] = delta_ac U_i[q]:
                            // dM_a/dX_i = sum_j (zeta-1) K_ij^(zeta-2) P_a,ij t_j with P_a = A_a V^T.
                            const RowMatrix dS = Kt.unaryExpr(
                                [zeta](double v) { return zeta > 1 ? (zeta - 1) * integer_power(v, zeta - 2) : 0.0; });
                            for (int a = 0; a < 3; ++a) {
                                const RowMatrix Pt = triplet_component(A, a).middleRows(b0, nb) * V.transpose();
                                Gx[a].middleRows(b0, nb).noalias() = dS.cwiseProduct(Pt) * set.scalar_points;
                            }
                        }
                    }
                }
                for (int a = 0; a < 3; ++a) {
                    const Eigen::VectorXd mu = triplet_component(A, a).cwiseProduct(U).rowwise().sum();
                    for (int b = 0; b < B; ++b) out.partial(chunk[b], a) += mu[b];
                }
            }
            clock.lap(&DipolePhaseTimes::kernel);
            if (!gradients) continue;

#pragma omp parallel
            {
                ExpansionScratch scratch = expansion_.make_scratch();
                std::vector<double> dm(3 * static_cast<std::size_t>(S)), work(std::max(S, D)), dc_scalar(scalar ? S : 0);
#pragma omp for schedule(static)
                for (int b = 0; b < B; ++b) {
                    const double* c = C.row(b).data();
                    // dM_a/dA_i[3q+c] = delta_ac u[q] (U_i[q] for the non-linear kernel): all three a in one sweep.
                    lambda1_.backpropagate_vector(c, A.row(b).data(), normsA[b], scalar ? U.row(b).data() : u.data(),
                                                  dm.data(), work.data());
                    for (int a = 0; a < 3; ++a) {
                        double* dc = dm.data() + static_cast<std::size_t>(a) * S;
                        if (scalar) {
                            power_spectrum_.backpropagate(c, X.row(b).data(), normsX[b], Gx[a].row(b).data(),
                                                          dc_scalar.data(), work.data());
                            for (int m = 0; m < S; ++m) dc[m] += dc_scalar[m];
                        }
                        expansion_.backpropagate(nl, species_of, chunk[b], dc, pair_gradients[a].data(), scratch);
                    }
                }
            }
            clock.lap(&DipolePhaseTimes::gradients);
        }
    }

    // Serial sums: the same result whatever the thread count.
    for (int i = 0; i < n_atoms; ++i) out.total += out.partial.row(i).transpose();
    if (gradients) {
        out.born_charges = Matrix3N::Zero(3 * n_atoms, 3);
        for (int a = 0; a < 3; ++a)
            scatter_pair_gradients(
                nl, pair_gradients[a].data(), [&](int k, int b) -> double& { return out.born_charges(3 * k + b, a); },
                out.strain_derivative[a]);
    }
    clock.lap(&DipolePhaseTimes::scatter);
    return out;
}

}  // namespace gapd
