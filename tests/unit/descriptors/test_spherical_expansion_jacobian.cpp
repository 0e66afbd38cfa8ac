// SphericalExpansion::pair_jacobian: dc/dr_ij of one centre against central finite differences of the coefficients
// (each neighbour vector moved on its own), and against backpropagate (the Jacobian contracted with a random dE/dc
// must give backpropagate's dE/dr_ij).

#include "finite_difference.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/spherical_expansion.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace gapd;

namespace {

SoapHypers jacobian_hypers(CutoffKind kind) {
    SoapHypers h;
    h.max_radial = 4;
    h.max_angular = 3;
    h.gaussian_sigma = 0.5;
    h.cutoff.kind = kind;
    h.cutoff.cutoff = 4.5;
    h.cutoff.smooth_width = 0.5;
    h.species = {8, 22, 56};
    return h;
}

// A distorted 5-atom BaTiO3 cell, triclinic: neighbours of all three species, some within the smoothing shell.
Structure distorted_batio3() {
    Structure s;
    // No pair exactly at rc - smooth_width = 4 Å, where the cutoff function has a kink that finite differences miss.
    s.cell << 4.0, 0.1, 0.05, 0.2, 3.9, 0.1, 0.05, -0.1, 4.1;
    s.numbers = {56, 22, 8, 8, 8};
    s.positions.resize(5, 3);
    s.positions << 0.0, 0.0, 0.0, 2.05, 1.95, 2.1, 2.0, 2.1, 0.1, 1.9, -0.05, 2.0, 0.1, 2.0, 1.95;
    return s;
}

std::vector<int> species_indices(const Structure& s, const SphericalExpansion& expansion) {
    std::vector<int> out;
    for (int z : s.numbers) out.push_back(expansion.species_index(z));
    return out;
}

}  // namespace

TEST_CASE("pair Jacobian: finite differences of the coefficients with respect to r_ij") {
    for (const CutoffKind kind : {CutoffKind::ShiftedCosine, CutoffKind::RadialScaling}) {
        CAPTURE(static_cast<int>(kind));
        const SphericalExpansion expansion(jacobian_hypers(kind), RadialMode::Exact);
        const Structure s = distorted_batio3();
        const NeighbourList nl0 = build_neighbour_list(s, expansion.hypers().cutoff.cutoff);
        const std::vector<int> species_of = species_indices(s, expansion);
        const int S = expansion.size(), block_width = S / expansion.species_count();
        ExpansionScratch scratch = expansion.make_scratch();
        PairJacobian jacobian;
        for (const int i : {0, 1, 2}) {
            expansion.pair_jacobian(nl0, species_of, i, jacobian, scratch);
            REQUIRE(jacobian.entries.size() == 3);
            std::size_t seen = 0;
            for (int a = 0; a < expansion.species_count(); ++a) {
                const std::vector<std::size_t>& entries = jacobian.entries[a];
                seen += entries.size();
                REQUIRE(jacobian.blocks[a].rows() == block_width);
                REQUIRE(jacobian.blocks[a].cols() == 3 * static_cast<Eigen::Index>(entries.size()));
                // Every fourth entry of each species block, all three directions.
                for (std::size_t q = 0; q < entries.size(); q += 4)
                    for (int d = 0; d < 3; ++d) {
                        const Eigen::VectorXd fd = testing::derivative(
                            [&](double step) {
                                NeighbourList nl = nl0;
                                nl.vectors(static_cast<Eigen::Index>(entries[q]), d) += step;
                                Eigen::VectorXd c(S);
                                expansion.compute(nl, species_of, i, c.data(), scratch);
                                return c;
                            },
                            1e-4);
                        // Only species block a depends on an entry of species a.
                        Eigen::VectorXd analytic = Eigen::VectorXd::Zero(S);
                        analytic.segment(a * block_width, block_width) = jacobian.blocks[a].col(3 * q + d);
                        CHECK((fd - analytic).cwiseAbs().maxCoeff() < 1e-7 * (1.0 + analytic.cwiseAbs().maxCoeff()));
                    }
            }
            CHECK(seen == nl0.offsets[i + 1] - nl0.offsets[i]);
        }
    }
}

TEST_CASE("pair Jacobian contracted with dE/dc equals backpropagate") {
    const SphericalExpansion expansion(jacobian_hypers(CutoffKind::ShiftedCosine), RadialMode::Spline);
    const Structure s = distorted_batio3();
    const NeighbourList nl = build_neighbour_list(s, expansion.hypers().cutoff.cutoff);
    const std::vector<int> species_of = species_indices(s, expansion);
    const int S = expansion.size(), block_width = S / expansion.species_count();
    ExpansionScratch scratch = expansion.make_scratch();
    std::mt19937 rng(7);
    std::normal_distribution<double> gauss;
    Eigen::RowVectorXd dc(S);
    for (int k = 0; k < S; ++k) dc[k] = gauss(rng);
    PairJacobian jacobian;
    for (int i = 0; i < static_cast<int>(s.size()); ++i) {
        std::vector<double> pair(3 * nl.size(), 0.0);
        expansion.backpropagate(nl, species_of, i, dc.data(), pair.data(), scratch);
        expansion.pair_jacobian(nl, species_of, i, jacobian, scratch);
        for (int a = 0; a < expansion.species_count(); ++a) {
            const Eigen::RowVectorXd g = dc.segment(a * block_width, block_width) * jacobian.blocks[a];
            for (std::size_t q = 0; q < jacobian.entries[a].size(); ++q)
                for (int d = 0; d < 3; ++d) {
                    const double expected = pair[3 * jacobian.entries[a][q] + d];
                    CHECK(std::abs(g[3 * q + d] - expected) < 1e-12 * (1.0 + std::abs(expected)));
                }
        }
    }
}
