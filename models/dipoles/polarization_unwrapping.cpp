#include "models/dipoles/polarization_unwrapping.hpp"

#include "models/core/nearest_lattice_vector.hpp"

#include <Eigen/LU>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>

namespace gapd {

namespace {

Eigen::Vector3d minimum_image(const Eigen::Matrix3d& basis, const Eigen::Vector3d& v) {
    return v - basis.transpose() * nearest_lattice_vector(basis, v).cast<double>();
}

}  // namespace

Matrix3N displacements_from_reference(const Structure& s, const Matrix3N& reference) {
    if (reference.rows() != static_cast<Eigen::Index>(s.size()))
        throw std::invalid_argument("reference positions: " + std::to_string(reference.rows()) + " rows for " +
                                    std::to_string(s.size()) + " atoms");
    Matrix3N d(s.size(), 3);
    for (std::size_t i = 0; i < s.size(); ++i)
        d.row(i) = minimum_image(s.cell, (s.positions.row(i) - reference.row(i)).transpose()).transpose();
    return d;
}

Matrix3N perovskite_displacements(const Structure& s, const CellDipoleRoles& roles) {
    const std::string what = "perovskite reference: ";
    if (!(s.pbc[0] && s.pbc[1] && s.pbc[2]) || !(std::abs(s.cell.determinant()) > 0))
        throw std::invalid_argument(what + "the frame is not periodic with a cell volume");
    int nA = 0, nB = 0, nO = 0;
    for (int z : s.numbers) {
        if (z == roles.a_site) ++nA;
        else if (z == roles.b_site) ++nB;
        else if (z == roles.oxygen) ++nO;
        else throw std::invalid_argument(what + "atomic number " + std::to_string(z) + " is not A, B or O site");
    }
    if (nB == 0 || nA != nB || nO != 3 * nB)
        throw std::invalid_argument(what + "not ABO3 (" + std::to_string(nA) + " A, " + std::to_string(nB) + " B, " +
                                    std::to_string(nO) + " O)");
    // Site offsets in grid units: 0 = A, 1 = B, 2..4 = O.
    const Eigen::Vector3d offsets[5] = {{0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    const Eigen::Matrix3d cell_inverse = s.cell.inverse();
    const double two_pi = 2.0 * std::acos(-1.0);
    Matrix3N best;
    double best_cost = std::numeric_limits<double>::infinity();
    for (int n1 = 1; n1 <= nB; ++n1)
        for (int n2 = 1; n1 * n2 <= nB; ++n2) {
            if (nB % (n1 * n2)) continue;
            const int n3 = nB / (n1 * n2);
            const Eigen::Vector3i n(n1, n2, n3);
            Eigen::Matrix3d basis = s.cell;
            for (int k = 0; k < 3; ++k) basis.row(k) /= n[k];
            // Origin: circular mean of the A-site grid coordinates.
            Eigen::Vector3d origin_grid = Eigen::Vector3d::Zero(), c = Eigen::Vector3d::Zero(), sn = c;
            for (std::size_t i = 0; i < s.size(); ++i) {
                if (s.numbers[i] != roles.a_site) continue;
                const Eigen::Vector3d g = (cell_inverse.transpose() * s.positions.row(i).transpose()).cwiseProduct(n.cast<double>());
                for (int k = 0; k < 3; ++k) {
                    c[k] += std::cos(two_pi * g[k]);
                    sn[k] += std::sin(two_pi * g[k]);
                }
            }
            for (int k = 0; k < 3; ++k) origin_grid[k] = std::atan2(sn[k], c[k]) / two_pi;
            Matrix3N d(s.size(), 3);
            std::set<std::tuple<int, int, int, int>> occupied;
            double cost = 0.0;
            bool valid = true;
            for (std::size_t i = 0; i < s.size() && valid; ++i) {
                const int z = s.numbers[i];
                const int first = z == roles.a_site ? 0 : z == roles.b_site ? 1 : 2;
                const int last = z == roles.oxygen ? 4 : first;
                double best_d2 = std::numeric_limits<double>::infinity();
                std::tuple<int, int, int, int> site;
                for (int o = first; o <= last; ++o) {
                    const Eigen::Vector3d p =
                        s.positions.row(i).transpose() - basis.transpose() * (origin_grid + offsets[o]);
                    const Eigen::Vector3i m = nearest_lattice_vector(basis, p);
                    const Eigen::Vector3d disp = p - basis.transpose() * m.cast<double>();
                    if (disp.squaredNorm() < best_d2) {
                        best_d2 = disp.squaredNorm();
                        d.row(i) = disp.transpose();
                        auto wrap = [](int v, int period) { return ((v % period) + period) % period; };
                        site = {o, wrap(m[0], n1), wrap(m[1], n2), wrap(m[2], n3)};
                    }
                }
                valid = occupied.insert(site).second;
                cost += best_d2;
            }
            if (valid && cost < best_cost) {
                best_cost = cost;
                best = std::move(d);
            }
        }
    if (!std::isfinite(best_cost))
        throw std::invalid_argument(what + "no n1 x n2 x n3 grid of the cell puts one atom on every perovskite site "
                                           "(give reference positions instead)");
    return best;
}

Eigen::Vector3d linear_dipole(const Structure& s, const Matrix3N& displacements, const std::map<int, double>& charges) {
    Eigen::Vector3d m = Eigen::Vector3d::Zero();
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto it = charges.find(s.numbers[i]);
        if (it == charges.end())
            throw std::invalid_argument("no Born charge for atomic number " + std::to_string(s.numbers[i]));
        m += it->second * displacements.row(i).transpose();
    }
    return m;
}

Eigen::Vector3d nearest_branch(const Eigen::Matrix3d& cell, const Eigen::Vector3d& dipole, const Eigen::Vector3d& target) {
    return dipole + cell.transpose() * nearest_lattice_vector(cell, target - dipole).cast<double>();
}

}  // namespace gapd
