#include "models/dipoles/dipole_calculator.hpp"

#include "models/descriptors/gradient_scatter.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/core/integer_power.hpp"
#include "models/core/openmp.hpp"
#include "models/core/phase_clock.hpp"
#include "models/core/row_buffers.hpp"
#include "models/core/thread_rows.hpp"

#include <Eigen/Dense>
#include <set>
#include <sstream>
#include <stdexcept>

namespace gapd {

namespace {

using DipolePhaseClock = PhaseClock<DipolePhaseTimes>;

}  // namespace

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

DipolePrediction DipoleCalculator::compute(const Structure& s, const DipoleComputeOptions& options) const {
    return evaluate(s, nullptr, false, options);
}

DipolePrediction DipoleCalculator::compute_with_gradients(const Structure& s,
                                                          const DipoleComputeOptions& options) const {
    return evaluate(s, nullptr, true, options);
}

DipolePrediction DipoleCalculator::compute(const Structure& s, const NeighbourList& nl,
                                           const DipoleComputeOptions& options) const {
    return evaluate(s, &nl, false, options);
}

DipolePrediction DipoleCalculator::compute_with_gradients(const Structure& s, const NeighbourList& nl,
                                                          const DipoleComputeOptions& options) const {
    return evaluate(s, &nl, true, options);
}

DipolePrediction DipoleCalculator::evaluate(const Structure& s, const NeighbourList* shared_list, bool gradients,
                                            const DipoleComputeOptions& options) const {
    DipolePhaseTimes* times = options.times;
    if (times) *times = DipolePhaseTimes{};
    DipolePhaseClock clock(times);
    DipoleWorkspace local;
    DipoleWorkspace& w = options.workspace ? *options.workspace : local;
    const std::vector<int> species_of = species_indices(s);
    NeighbourList own_list;
    if (!shared_list) own_list = build_neighbour_list(s, cutoff());
    const NeighbourList& nl = shared_list ? *shared_list : own_list;
    if (nl.offsets.size() != s.size() + 1)
        throw std::invalid_argument("dipole model: the neighbour list is not the structure's");
    clock.lap(&DipolePhaseTimes::neighbours);

    const int n_atoms = static_cast<int>(s.size());
    const int S = expansion_.size();
    const int F = lambda1_.size();
    const int D = power_spectrum_.size();
    const bool scalar = model_.kernel == DipoleKernel::LinearTimesScalar;
    // Linear kernel on unnormalized features: each partial dipole is a bilinear form in the coefficients.
    const bool bilinear = !scalar && !model_.hypers.normalize;
    const int zeta = model_.zeta;
    const int threads = openmp::max_threads();
    if (static_cast<int>(w.threads.size()) < threads) {
        w.threads.resize(threads);
        for (DipoleWorkspace::Thread& th : w.threads)
            if (th.expansion.radial.empty()) th.expansion = expansion_.make_scratch();
    }
    for (DipoleWorkspace::Thread& th : w.threads) {
        th.dM_dc.resize(3 * static_cast<std::size_t>(S));
        th.work.resize(std::max(S, D));
        th.dc_scalar.resize(scalar ? S : 0);
    }

    DipolePrediction out;
    out.partial = Matrix3N::Zero(n_atoms, 3);
    for (int i = 0; i < n_atoms; ++i) {
        const auto b = model_.baseline.find(s.numbers[i]);
        if (b != model_.baseline.end()) out.partial.row(i) = b->second.transpose();
    }
    // dM_a/dr_ij of every neighbour entry, one array per component a of M.
    for (auto& p : w.pair_gradients) p.assign(gradients ? 3 * nl.size() : 0, 0.0);
    double* const pair_gradients[3] = {w.pair_gradients[0].data(), w.pair_gradients[1].data(),
                                       w.pair_gradients[2].data()};

    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const DipoleSparseSet& set = model_.sparse[k];
        const RowMatrix& V = contracted_[k];
        const Eigen::VectorXd& u = summed_[k];
        const int M = static_cast<int>(V.rows());
        const int Q = static_cast<int>(V.cols());
        w.centres.clear();
        for (int i = 0; i < n_atoms; ++i)
            if (s.numbers[i] == set.species) w.centres.push_back(i);

        for (std::size_t start = 0; start < w.centres.size(); start += chunk_size) {
            const int B = static_cast<int>(std::min<std::size_t>(chunk_size, w.centres.size() - start));
            const int* chunk = w.centres.data() + start;
            reserve_rows(w.C, B, S);
            reserve_rows(w.A, B, F);
            if (w.norms_A.size() < B) w.norms_A.resize(B);
            if (scalar) {
                reserve_rows(w.X, B, D);
                reserve_rows(w.U, B, Q);
                if (w.norms_X.size() < B) w.norms_X.resize(B);
                if (gradients)
                    for (auto& g : w.Gx) reserve_rows(g, B, D);
            }

            // One parallel region per chunk, each thread owning a contiguous block of centres from the expansion
            // to dM_a/dr_ij (models/core/thread_rows.hpp: its GEMMs run serially on its own rows, no barrier
            // inside). Each row's numbers come from the same operations whatever the block, so results do not
            // depend on the thread count. Phase times are thread 0's.
#pragma omp parallel
            {
                const auto [t, b0, b1] = thread_rows(B);
                DipolePhaseClock phase(t == 0 ? times : nullptr);
                DipoleWorkspace::Thread& th = w.threads[t];
                const int nb = b1 - b0;
                if (nb > 0) {
                    for (int b = b0; b < b1; ++b)
                        expansion_.compute(nl, species_of, chunk[b], w.C.row(b).data(), th.expansion);
                    phase.lap(&DipolePhaseTimes::expansion);
                }
                if (nb > 0 && bilinear) {
                    // mu_i = T(c_i) u with T bilinear in c_i: contracted without forming the features, and the
                    // three components' expansion adjoints in one pass over the neighbours.
                    for (int b = b0; b < b1; ++b) {
                        const double* c = w.C.row(b).data();
                        const Eigen::Vector3d mu_i = gradients
                                                         ? lambda1_.contract_with_gradient(c, u.data(), th.dM_dc.data())
                                                         : lambda1_.contract(c, u.data());
                        out.partial.row(chunk[b]) += mu_i.transpose();
                        if (gradients)
                            expansion_.backpropagate_many(nl, species_of, chunk[b], th.dM_dc.data(), 3,
                                                          pair_gradients, th.expansion);
                    }
                    phase.lap(gradients ? &DipolePhaseTimes::gradients : &DipolePhaseTimes::features);
                } else if (nb > 0) {
                    for (int b = b0; b < b1; ++b) {
                        w.norms_A[b] = lambda1_.compute(w.C.row(b).data(), w.A.row(b).data());
                        if (scalar) w.norms_X[b] = power_spectrum_.compute(w.C.row(b).data(), w.X.row(b).data());
                    }
                    phase.lap(&DipolePhaseTimes::features);

                    if (th.mu.size() < nb) th.mu.resize(B);
                    auto mu = th.mu.head(nb);  // mu_i,a of this block's rows, one component a at a time
                    if (!scalar) {
                        // mu_i,a = sum_q A_i[3q+a] u[q].
                        for (int a = 0; a < 3; ++a) {
                            mu.noalias() = triplet_component(w.A, a).middleRows(b0, nb) * u;
                            for (int b = b0; b < b1; ++b) out.partial(chunk[b], a) += mu[b - b0];
                        }
                    } else {
                        // K = X T^T, S = K^(zeta-1), U = S V:
                        // mu_i,a = sum_j S_ij sum_q A_i[3q+a] V_j[q] = sum_q A_i[3q+a] U_i[q].
                        reserve_rows(th.K, B, M);
                        reserve_rows(th.S, B, M);
                        auto K = th.K.topRows(nb);
                        auto Sk = th.S.topRows(nb);
                        K.noalias() = w.X.middleRows(b0, nb) * set.scalar_points.transpose();
                        Sk = K.unaryExpr([zeta](double v) { return integer_power(v, zeta - 1); });
                        w.U.middleRows(b0, nb).noalias() = Sk * V;
                        for (int a = 0; a < 3; ++a) {
                            mu = triplet_component(w.A, a).middleRows(b0, nb).cwiseProduct(w.U.middleRows(b0, nb))
                                     .rowwise()
                                     .sum();
                            for (int b = b0; b < b1; ++b) out.partial(chunk[b], a) += mu[b - b0];
                        }
                        if (gradients) {
                            // Besides dM_a/dA_i[3q+c] = delta_ac U_i[q]:
                            // dM_a/dX_i = sum_j (zeta-1) K_ij^(zeta-2) P_a,ij t_j with P_a = A_a V^T.
                            reserve_rows(th.dS, B, M);
                            auto dS = th.dS.topRows(nb);
                            dS = K.unaryExpr(
                                [zeta](double v) { return zeta > 1 ? (zeta - 1) * integer_power(v, zeta - 2) : 0.0; });
                            reserve_rows(th.P, B, M);
                            auto P = th.P.topRows(nb);
                            for (int a = 0; a < 3; ++a) {
                                P.noalias() = triplet_component(w.A, a).middleRows(b0, nb) * V.transpose();
                                P = dS.cwiseProduct(P);
                                w.Gx[a].middleRows(b0, nb).noalias() = P * set.scalar_points;
                            }
                        }
                    }
                    phase.lap(&DipolePhaseTimes::kernel);

                    if (gradients) {
                        for (int b = b0; b < b1; ++b) {
                            const double* c = w.C.row(b).data();
                            // dM_a/dA_i[3q+c] = delta_ac u[q] (U_i[q] for the non-linear kernel): all three a in
                            // one sweep.
                            lambda1_.backpropagate_vector(c, w.A.row(b).data(), w.norms_A[b],
                                                          scalar ? w.U.row(b).data() : u.data(), th.dM_dc.data(),
                                                          th.work.data());
                            if (scalar)
                                for (int a = 0; a < 3; ++a) {
                                    double* dc = th.dM_dc.data() + static_cast<std::size_t>(a) * S;
                                    power_spectrum_.backpropagate(c, w.X.row(b).data(), w.norms_X[b],
                                                                  w.Gx[a].row(b).data(), th.dc_scalar.data(),
                                                                  th.work.data());
                                    for (int m = 0; m < S; ++m) dc[m] += th.dc_scalar[m];
                                }
                            expansion_.backpropagate_many(nl, species_of, chunk[b], th.dM_dc.data(), 3,
                                                          pair_gradients, th.expansion);
                        }
                        phase.lap(&DipolePhaseTimes::gradients);
                    }
                }
            }
            clock.restart();
        }
    }

    // Serial sums: the same result whatever the thread count.
    for (int i = 0; i < n_atoms; ++i) out.total += out.partial.row(i).transpose();
    if (gradients) {
        out.born_charges = Matrix3N::Zero(3 * n_atoms, 3);
        for (int a = 0; a < 3; ++a)
            scatter_pair_gradients(
                nl, w.pair_gradients[a].data(),
                [&](int k, int b) -> double& { return out.born_charges(3 * k + b, a); }, out.strain_derivative[a]);
    }
    clock.lap(&DipolePhaseTimes::scatter);
    return out;
}

}  // namespace gapd
