#include "models/gap_calculator.hpp"

#include "models/neighbour_list.hpp"

#include <Eigen/Dense>
#include <chrono>
#include <sstream>
#include <stdexcept>

namespace gapd {

namespace {

class PhaseClock {
public:
    explicit PhaseClock(PhaseTimes* times) : times_(times), last_(std::chrono::steady_clock::now()) {}
    // Adds the time since the previous lap to `slot`.
    void lap(double PhaseTimes::*slot) {
        const auto now = std::chrono::steady_clock::now();
        if (times_) times_->*slot += std::chrono::duration<double>(now - last_).count();
        last_ = now;
    }

private:
    PhaseTimes* times_;
    std::chrono::steady_clock::time_point last_;
};

double integer_power(double x, int n) {
    double r = 1.0;
    for (int k = 0; k < n; ++k) r *= x;
    return r;
}

}  // namespace

GapCalculator::GapCalculator(GapModel model, RadialMode mode)
    : model_(std::move(model)),
      mode_(mode),
      expansion_(model_.hypers, mode),
      power_spectrum_(model_.hypers),
      sparse_of_species_(model_.hypers.species.size(), -1) {
    if (model_.zeta < 1) throw std::invalid_argument("GAP model: zeta must be a positive integer");
    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const SparseSet& set = model_.sparse[k];
        const int a = expansion_.species_index(set.species);
        if (a < 0) throw std::invalid_argument("GAP model: sparse set for a species missing from the species list");
        if (set.points.cols() != power_spectrum_.size() || set.points.rows() != set.weights.size())
            throw std::invalid_argument("GAP model: sparse set shape does not match the hyperparameters");
        sparse_of_species_[a] = static_cast<int>(k);
    }
}

std::vector<int> GapCalculator::species_indices(const Structure& s) const {
    std::vector<int> species_of(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        species_of[i] = expansion_.species_index(s.numbers[i]);
        if (species_of[i] < 0) {
            std::ostringstream msg;
            msg << "atom " << i << " has atomic number " << s.numbers[i] << ", which the model does not know (model species:";
            for (int z : model_.hypers.species) msg << ' ' << z;
            msg << ")";
            throw std::invalid_argument(msg.str());
        }
    }
    return species_of;
}

RowMatrix GapCalculator::features(const Structure& s) const {
    const std::vector<int> species_of = species_indices(s);
    const NeighbourList nl = build_neighbour_list(s, cutoff());
    const int n = static_cast<int>(s.size());
    RowMatrix x(n, power_spectrum_.size());
#pragma omp parallel
    {
        ExpansionScratch scratch = expansion_.make_scratch();
        std::vector<double> c(expansion_.size());
#pragma omp for schedule(static)
        for (int i = 0; i < n; ++i) {
            expansion_.compute(nl, species_of, i, c.data(), scratch);
            power_spectrum_.compute(c.data(), x.row(i).data());
        }
    }
    return x;
}

GapPrediction GapCalculator::compute(const Structure& s, bool gradients, PhaseTimes* times) const {
    if (times) *times = PhaseTimes{};
    PhaseClock clock(times);
    const std::vector<int> species_of = species_indices(s);
    const NeighbourList nl = build_neighbour_list(s, cutoff());
    clock.lap(&PhaseTimes::neighbours);

    const int n_atoms = static_cast<int>(s.size());
    const int S = expansion_.size();
    const int D = power_spectrum_.size();
    const int zeta = model_.zeta;

    GapPrediction out;
    out.atom_energies.resize(n_atoms);
    for (int i = 0; i < n_atoms; ++i) {
        const auto e0 = model_.self_contributions.find(s.numbers[i]);
        out.atom_energies[i] = (e0 != model_.self_contributions.end()) ? e0->second : 0.0;
    }
    // dE/dr_ij of every neighbour entry; entries of centres without a sparse set stay zero.
    std::vector<double> pair_gradients(gradients ? 3 * nl.size() : 0, 0.0);

    RowMatrix C, X, dC, G;
    Eigen::VectorXd norms;
    for (const SparseSet& set : model_.sparse) {
        std::vector<int> centres;
        for (int i = 0; i < n_atoms; ++i)
            if (s.numbers[i] == set.species) centres.push_back(i);
        const int M = static_cast<int>(set.points.rows());

        for (std::size_t start = 0; start < centres.size(); start += chunk_size) {
            const int B = static_cast<int>(std::min<std::size_t>(chunk_size, centres.size() - start));
            const int* chunk = centres.data() + start;
            C.resize(B, S);
            X.resize(B, D);
            norms.resize(B);

#pragma omp parallel
            {
                ExpansionScratch scratch = expansion_.make_scratch();
#pragma omp for schedule(static)
                for (int b = 0; b < B; ++b) expansion_.compute(nl, species_of, chunk[b], C.row(b).data(), scratch);
            }
            clock.lap(&PhaseTimes::expansion);
#pragma omp parallel for schedule(static)
            for (int b = 0; b < B; ++b) norms[b] = power_spectrum_.compute(C.row(b).data(), X.row(b).data());
            clock.lap(&PhaseTimes::power_spectrum);

            // Kernel: K = X T^T, E_i += sum_m w_m K_im^zeta; dE/dX = (zeta w_m K_im^(zeta-1)) T.
            RowMatrix K = X * set.points.transpose();
            for (int b = 0; b < B; ++b) {
                double e = 0.0;
                for (int m = 0; m < M; ++m) {
                    const double k_pow = integer_power(K(b, m), zeta - 1);
                    e += set.weights[m] * k_pow * K(b, m);
                    K(b, m) = zeta * set.weights[m] * k_pow;
                }
                out.atom_energies[chunk[b]] += e;
            }
            if (gradients) G.noalias() = K * set.points;
            clock.lap(&PhaseTimes::kernel);
            if (!gradients) continue;

            dC.resize(B, S);
#pragma omp parallel
            {
                ExpansionScratch scratch = expansion_.make_scratch();
                std::vector<double> work(D);
#pragma omp for schedule(static)
                for (int b = 0; b < B; ++b) {
                    power_spectrum_.backpropagate(C.row(b).data(), X.row(b).data(), norms[b], G.row(b).data(),
                                                  dC.row(b).data(), work.data());
                    expansion_.backpropagate(nl, species_of, chunk[b], dC.row(b).data(), pair_gradients.data(),
                                             scratch);
                }
            }
            clock.lap(&PhaseTimes::gradients);
        }
    }

    // Serial sums: the same result whatever the thread count.
    out.energy = 0.0;
    for (int i = 0; i < n_atoms; ++i) out.energy += out.atom_energies[i];
    if (gradients) {
        out.forces = Matrix3N::Zero(n_atoms, 3);
        for (int i = 0; i < n_atoms; ++i) {
            for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
                const double* g = pair_gradients.data() + 3 * e;
                const double* r = nl.vectors.data() + 3 * e;
                const int j = nl.neighbour[e];
                for (int a = 0; a < 3; ++a) {
                    // r_ij = r_j - r_i: dE/dr_j += g, dE/dr_i -= g; W = -sum g (x) r_ij.
                    out.forces(j, a) -= g[a];
                    out.forces(i, a) += g[a];
                    for (int b = 0; b < 3; ++b) out.virial(a, b) -= g[a] * r[b];
                }
            }
        }
    }
    clock.lap(&PhaseTimes::scatter);
    return out;
}

}  // namespace gapd
