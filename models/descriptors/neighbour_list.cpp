#include "models/descriptors/neighbour_list.hpp"

#include "models/core/openmp.hpp"

#include <Eigen/Geometry>
#include <Eigen/LU>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cmath>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>

namespace gapd {

namespace {

constexpr double kMinDistance = 1e-6;      // Å; closer pairs are overlapping atoms, an input error
constexpr double kMaxSearchCells = 1e7;    // per centre; more means an absurdly thin lattice
constexpr std::size_t kMaxReserve = 1u << 24;  // entries reserved up front; the list still grows past it
constexpr int kBinsPerCutoff = 2;            // bin thickness >= cutoff / this (see the binning below)

std::string format_vector(const Eigen::RowVector3d& v) {
    std::ostringstream out;
    out.precision(10);
    out << '(' << v[0] << ", " << v[1] << ", " << v[2] << ')';
    return out.str();
}

std::string format_number(double x) {
    std::ostringstream out;
    out.precision(10);
    out << x;
    return out.str();
}

[[noreturn]] void fail(const std::string& message) {
    throw std::invalid_argument("neighbour list: " + message);
}

// Rows of the returned matrix span space: lattice vector k for each periodic k, and orthonormal vectors
// perpendicular to all periodic ones for the rest. Fractional coordinates in this basis wrap along the periodic
// directions and are plain Å along the others.
Eigen::Matrix3d search_basis(const Structure& s) {
    std::vector<int> periodic, open;
    for (int k = 0; k < 3; ++k) (s.pbc[k] ? periodic : open).push_back(k);
    Eigen::Matrix3d basis = Eigen::Matrix3d::Identity();
    for (int k : periodic) {
        basis.row(k) = s.cell.row(k);
        if (basis.row(k).squaredNorm() == 0.0)
            fail("periodic along lattice vector " + std::to_string(k) + ", but that cell row is zero");
    }
    if (periodic.size() == 3) {
        const double volume = std::abs(basis.determinant());
        const double scale = basis.row(0).norm() * basis.row(1).norm() * basis.row(2).norm();
        if (!(volume > 1e-10 * scale)) {
            std::ostringstream msg;
            msg << "the cell is singular (volume " << volume << " Å^3 for lattice vectors of lengths "
                << basis.row(0).norm() << ", " << basis.row(1).norm() << ", " << basis.row(2).norm() << " Å)";
            fail(msg.str());
        }
    } else if (periodic.size() == 2) {
        const Eigen::Vector3d a = basis.row(periodic[0]), b = basis.row(periodic[1]);
        const Eigen::Vector3d normal = a.cross(b);
        if (!(normal.norm() > 1e-10 * a.norm() * b.norm()))
            fail("periodic lattice vectors " + std::to_string(periodic[0]) + " and " + std::to_string(periodic[1]) +
                 " are parallel");
        basis.row(open[0]) = normal.normalized();
    } else if (periodic.size() == 1) {
        const Eigen::Vector3d a = basis.row(periodic[0]).normalized();
        Eigen::Index axis;  // the Cartesian axis least aligned with a gives a well-conditioned cross product
        a.cwiseAbs().minCoeff(&axis);
        const Eigen::Vector3d e1 = a.cross(Eigen::Vector3d::Unit(axis)).normalized();
        basis.row(open[0]) = e1;
        basis.row(open[1]) = a.cross(e1);
    }
    return basis;
}

// cells: the lattice translation, in cells, relative to the input positions (r_ij = r_j + T - r_i).
[[noreturn]] void overlap_error(int i, int j, double distance, const Eigen::RowVector3d& cells) {
    std::ostringstream msg;
    if (j == i)
        msg << "atom " << i << " is " << distance << " Å from its own periodic image (lattice translation "
            << format_vector(cells) << "), closer than 1e-6 Å";
    else
        msg << "atoms " << i << " and " << j << " overlap: " << distance << " Å apart (atom " << j
            << " translated by " << format_vector(cells) << " cells), closer than 1e-6 Å";
    fail(msg.str());
}

long long floor_div(long long a, long long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Blocks of centres scanned concurrently: one per OpenMP thread, but only from 2048 centres per thread. Below
// that the scan is cheaper than the threads' own buffers and their concatenation (2 threads, `gapd bench`: the
// serial list took 0.40 ms at 320 atoms and 1.27 at 1080 against 0.50 and 1.5 in two blocks; at 5000 and 13720
// atoms the two were equal within noise).
int parallel_blocks(Eigen::Index n) {
    const int threads = openmp::in_parallel() ? 1 : openmp::max_threads();
    return static_cast<int>(std::max<Eigen::Index>(1, std::min<Eigen::Index>(threads, n / 2048)));
}

// Entries found by one scan of consecutive centres: neighbour indices, r_ij rows and the number of entries per
// centre. The first `count` entries are filled; the arrays grow by 1.5x as needed.
struct EntryBlock {
    std::vector<int> neighbours;
    Matrix3N vectors;
    std::size_t count = 0;
    std::vector<std::size_t> per_centre;
    std::array<std::vector<std::array<long long, 2>>, 3> along;  // scan_centre's scratch: bins within reach

    void reserve(double entries, Eigen::Index centres) {
        grow(static_cast<std::size_t>(entries));
        per_centre.reserve(static_cast<std::size_t>(centres));
    }
    // Room for `extra` more entries beyond count.
    void make_room(std::size_t extra) {
        if (count + extra > neighbours.size()) grow(std::max(count + extra, neighbours.size() * 3 / 2));
    }
    void grow(std::size_t capacity) {
        capacity = std::max<std::size_t>(capacity, 64);
        neighbours.resize(capacity);
        vectors.conservativeResize(static_cast<Eigen::Index>(capacity), 3);
    }
    void trim() {
        neighbours.resize(count);
        neighbours.shrink_to_fit();
        vectors.conservativeResize(static_cast<Eigen::Index>(count), 3);
    }
};

std::atomic<double> g_max_pairs{NeighbourListLimits{}.max_pairs};
std::atomic<double> g_max_pairs_per_atom{NeighbourListLimits{}.max_pairs_per_atom};

// The estimate against the limits; the message names the cell so that a garbage cell is recognisable.
void check_pair_estimate(const Structure& s, Eigen::Index n, double cutoff, double occupied, double pairs_per_atom,
                         const NeighbourListLimits& limits) {
    const double pairs = pairs_per_atom * static_cast<double>(n);
    if (pairs_per_atom <= limits.max_pairs_per_atom && pairs <= limits.max_pairs) return;
    std::ostringstream msg;
    msg.precision(3);
    msg << "the structure is far too dense for the cutoff: " << n << " atoms in a cell with edges ("
        << s.cell.row(0).norm() << ", " << s.cell.row(1).norm() << ", " << s.cell.row(2).norm() << ") Å, volume "
        << occupied << " Å^3, would give about " << pairs_per_atom << " neighbours per atom within " << cutoff
        << " Å, " << pairs << " pairs (" << pairs * kNeighbourEntryBytes / 1e9 << " GB) in all; the limits are "
        << limits.max_pairs_per_atom << " per atom and " << limits.max_pairs
        << " in all (--max-pairs); a cell this small is not a real structure (units? garbage from i-PI?)";
    fail(msg.str());
}

}  // namespace

void set_neighbour_list_limits(const NeighbourListLimits& limits) {
    g_max_pairs.store(limits.max_pairs);
    g_max_pairs_per_atom.store(limits.max_pairs_per_atom);
}

NeighbourListLimits neighbour_list_limits() {
    NeighbourListLimits limits;
    limits.max_pairs = g_max_pairs.load();
    limits.max_pairs_per_atom = g_max_pairs_per_atom.load();
    return limits;
}

NeighbourList build_neighbour_list(const Structure& s, double cutoff) {
    return build_neighbour_list(s, cutoff, neighbour_list_limits());
}

std::size_t NeighbourList::memory_bytes() const {
    return offsets.capacity() * sizeof(std::size_t) + neighbour.capacity() * sizeof(int) +
           static_cast<std::size_t>(vectors.size()) * sizeof(double);
}

NeighbourList build_neighbour_list(const Structure& s, double cutoff, const NeighbourListLimits& limits) {
    if (!(cutoff > 0.0) || !std::isfinite(cutoff))
        fail("cutoff must be finite and > 0, got " + format_number(cutoff));
    const Eigen::Index n = s.positions.rows();
    if (static_cast<std::size_t>(n) != s.numbers.size())
        fail(std::to_string(n) + " positions but " + std::to_string(s.numbers.size()) + " atomic numbers");
    if (n > INT_MAX) fail("too many atoms (" + std::to_string(n) + ")");
    for (Eigen::Index i = 0; i < n; ++i)
        if (!s.positions.row(i).allFinite())
            fail("atom " + std::to_string(i) + " has a non-finite position " + format_vector(s.positions.row(i)));
    if (!s.cell.allFinite()) fail("the cell has non-finite entries");

    NeighbourList nl;
    nl.offsets.assign(n + 1, 0);
    if (n == 0) return nl;

    const Eigen::Matrix3d basis = search_basis(s);
    const Eigen::Matrix3d inverse = basis.inverse();  // fractional f = r * inverse (row vectors)

    // Wrap along periodic directions. Binning uses the fractional coordinates of the wrapped Cartesian
    // positions themselves, so that bins and distances see the same points up to rounding.
    Matrix3N wrapped(n, 3), fractional(n, 3), wrap_shift(n, 3);
    for (Eigen::Index i = 0; i < n; ++i) {
        const Eigen::RowVector3d f = s.positions.row(i) * inverse;
        for (int k = 0; k < 3; ++k) {
            if (s.pbc[k] && !(std::abs(f[k]) <= kMaxFractionalCoordinate)) {
                std::ostringstream msg;
                msg.precision(3);
                msg << "atom " << i << " is " << f[k] << " cells away along lattice vector " << k
                    << " (position " << format_vector(s.positions.row(i)) << " Å); beyond "
                    << kMaxFractionalCoordinate << " cells a double no longer places it precisely within its "
                    << "cell: wrap the positions into the cell";
                fail(msg.str());
            }
            wrap_shift(i, k) = s.pbc[k] ? std::floor(f[k]) : 0.0;
        }
        wrapped.row(i) = s.positions.row(i) - wrap_shift.row(i) * basis;
        fractional.row(i) = wrapped.row(i) * inverse;
    }

    // Bins: slabs of thickness >= cutoff / kBinsPerCutoff, so that a centre's neighbours lie within `reach`
    // (= kBinsPerCutoff, or more through periodic images of a lattice thinner than the cutoff) bins on either
    // side. Bins of a whole cutoff would make each centre test ~27/(4 pi/3) = 6.4x more atoms than its sphere
    // holds; half a cutoff, 125/(8 x 4 pi/3) = 3.7x (at 320 BaTiO3 atoms: 1080 -> 320 tests per centre).
    // At most ~N bins in total: a dilute system must not allocate a huge empty grid.
    const long long max_bins = std::min<long long>(n, 1LL << 20);
    std::array<double, 3> origin{}, span{}, thickness{};
    std::array<long long, 3> bins{}, reach{};
    for (int k = 0; k < 3; ++k) {
        const double plane_spacing = 1.0 / inverse.col(k).norm();  // Å between planes f_k = const, f_k + 1
        if (s.pbc[k]) {
            origin[k] = 0.0;
            span[k] = 1.0;
        } else {
            origin[k] = fractional.col(k).minCoeff();
            span[k] = fractional.col(k).maxCoeff() - origin[k];
        }
        thickness[k] = span[k] * plane_spacing;
        // The 1e-6 margin keeps bins strictly thicker than cutoff / kBinsPerCutoff despite rounding, so reach
        // stays kBinsPerCutoff.
        const double wanted =
            std::min(thickness[k] / cutoff * kBinsPerCutoff * (1.0 - 1e-6), static_cast<double>(max_bins));
        bins[k] = std::max(1LL, static_cast<long long>(wanted));
    }
    while (bins[0] * bins[1] * bins[2] > max_bins) {
        const int k = static_cast<int>(std::max_element(bins.begin(), bins.end()) - bins.begin());
        bins[k] = (bins[k] + 1) / 2;
    }
    double search_cells = 1.0;
    for (int k = 0; k < 3; ++k) {
        double r = thickness[k] > 0.0 ? std::ceil(cutoff * bins[k] / thickness[k] + 1e-8) : 0.0;
        if (!s.pbc[k]) r = std::min(r, static_cast<double>(bins[k] - 1));
        search_cells *= 2.0 * r + 1.0;
        reach[k] = search_cells <= kMaxSearchCells ? static_cast<long long>(r) : 0;
    }
    if (!(search_cells <= kMaxSearchCells)) {
        std::ostringstream msg;
        msg << "the lattice is too thin for the cutoff: plane spacings (" << thickness[0] << ", " << thickness[1]
            << ", " << thickness[2] << ") Å with cutoff " << cutoff << " Å would need more than "
            << kMaxSearchCells << " periodic images per atom";
        fail(msg.str());
    }

    // Counting sort of the atoms into bins, stable in atom index.
    const long long n_bins = bins[0] * bins[1] * bins[2];
    std::vector<std::array<long long, 3>> cell_of(n);
    std::vector<std::size_t> bin_start(n_bins + 1, 0);
    std::vector<long long> bin_of(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        for (int k = 0; k < 3; ++k) {
            long long c = 0;
            if (span[k] > 0.0) {
                const double u = (fractional(i, k) - origin[k]) / span[k] * static_cast<double>(bins[k]);
                c = std::min(bins[k] - 1, std::max(0LL, static_cast<long long>(std::floor(u))));
            }
            cell_of[i][k] = c;
        }
        bin_of[i] = (cell_of[i][0] * bins[1] + cell_of[i][1]) * bins[2] + cell_of[i][2];
        ++bin_start[bin_of[i] + 1];
    }
    for (long long b = 0; b < n_bins; ++b) bin_start[b + 1] += bin_start[b];
    std::vector<int> binned_index(n);
    Matrix3N binned_position(n, 3);
    {
        std::vector<std::size_t> fill(bin_start.begin(), bin_start.end() - 1);
        for (Eigen::Index i = 0; i < n; ++i) {
            const std::size_t slot = fill[bin_of[i]]++;
            binned_index[slot] = static_cast<int>(i);
            binned_position.row(slot) = wrapped.row(i);
        }
    }

    // Expected entries: density x sphere volume (self images included), the extent of a non-periodic direction
    // taken as at least the cutoff; used to reserve the per-thread buffers.
    double occupied = std::abs(basis.determinant());
    for (int k = 0; k < 3; ++k)
        if (!s.pbc[k]) occupied *= std::max(span[k], cutoff);
    const double pairs_per_atom = n / occupied * 4.0 / 3.0 * M_PI * cutoff * cutoff * cutoff;
    check_pair_estimate(s, n, cutoff, occupied, pairs_per_atom, limits);
    const double expected = n * pairs_per_atom * 1.1;

    const double cutoff2 = cutoff * cutoff;
    // Appends the entries of centre i (neighbour index and r_ij) to `block`.
    auto scan_centre = [&](Eigen::Index i, EntryBlock& block) {
        const Eigen::RowVector3d centre = wrapped.row(i);
        // Per direction, the bins within reach: bin index and the lattice translation (in cells) it implies.
        auto& along = block.along;
        for (int k = 0; k < 3; ++k) {
            along[k].clear();
            for (long long o = -reach[k]; o <= reach[k]; ++o) {
                const long long t = cell_of[i][k] + o;
                if (s.pbc[k]) {
                    const long long image = floor_div(t, bins[k]);
                    along[k].push_back({t - image * bins[k], image});
                } else if (t >= 0 && t < bins[k]) {
                    along[k].push_back({t, 0});
                }
            }
        }
        const auto& last_axis = along[2];
        for (const auto& [b0, image0] : along[0]) {
            for (const auto& [b1, image1] : along[1]) {
                const Eigen::RowVector3d partial =
                    static_cast<double>(image0) * basis.row(0) + static_cast<double>(image1) * basis.row(1);
                const long long row = (b0 * bins[1] + b1) * bins[2];
                // Consecutive bins along the last axis under one translation are one run of binned atoms.
                for (std::size_t q = 0; q < last_axis.size();) {
                    const long long image2 = last_axis[q][1], first_bin = last_axis[q][0];
                    std::size_t end = q + 1;
                    while (end < last_axis.size() && last_axis[end][1] == image2 &&
                           last_axis[end][0] == last_axis[end - 1][0] + 1)
                        ++end;
                    const long long last_bin = last_axis[end - 1][0];
                    q = end;
                    const Eigen::RowVector3d translation = partial + static_cast<double>(image2) * basis.row(2);
                    const double sx = translation[0] - centre[0], sy = translation[1] - centre[1],
                                 sz = translation[2] - centre[2];
                    const bool zero_image = image0 == 0 && image1 == 0 && image2 == 0;
                    const std::size_t from = bin_start[row + first_bin], to = bin_start[row + last_bin + 1];
                    // Every candidate is written and the count advances only for those inside the cutoff: a
                    // branch on the distance would be mispredicted for a large share of the candidates.
                    block.make_room(to - from);
                    int* out_j = block.neighbours.data();
                    double* out_v = block.vectors.data();
                    std::size_t count = block.count;
                    for (std::size_t e = from; e < to; ++e) {
                        const double* p = binned_position.data() + 3 * e;
                        const double vx = p[0] + sx, vy = p[1] + sy, vz = p[2] + sz;
                        const double r2 = vx * vx + vy * vy + vz * vz;
                        const int j = binned_index[e];
                        if (r2 < kMinDistance * kMinDistance) {  // the centre itself, else overlapping atoms
                            // Atom i sits in one bin: without a translation, that is the centre's own entry.
                            if (zero_image && j == i) continue;
                            const Eigen::RowVector3d cells =
                                Eigen::RowVector3d(static_cast<double>(image0), static_cast<double>(image1),
                                                   static_cast<double>(image2)) +
                                wrap_shift.row(i) - wrap_shift.row(j);
                            overlap_error(static_cast<int>(i), j, std::sqrt(r2), cells);
                        }
                        out_j[count] = j;
                        out_v[3 * count] = vx;
                        out_v[3 * count + 1] = vy;
                        out_v[3 * count + 2] = vz;
                        count += r2 <= cutoff2 ? 1 : 0;
                    }
                    block.count = count;
                }
            }
        }
    };

    // Contiguous blocks of centres per thread, each into its own buffers, concatenated in centre order: the
    // same list, entry for entry, whatever the thread count. An error (overlapping atoms) is reported for the
    // lowest centre index that has one, as the serial scan would.
    const int blocks = parallel_blocks(n);
    std::vector<EntryBlock> block(blocks);
    std::vector<std::exception_ptr> block_error(blocks);
#pragma omp parallel for schedule(static, 1) num_threads(blocks) if (blocks > 1)
    for (int t = 0; t < blocks; ++t) {
        const Eigen::Index first = n * t / blocks, last = n * (t + 1) / blocks;
        try {
            block[t].reserve(std::min(expected * static_cast<double>(last - first) / n, static_cast<double>(kMaxReserve)),
                             last - first);
            for (Eigen::Index i = first; i < last; ++i) {
                const std::size_t before = block[t].count;
                scan_centre(i, block[t]);
                block[t].per_centre.push_back(block[t].count - before);
            }
        } catch (...) {  // exceptions must not leave the parallel region
            block_error[t] = std::current_exception();
        }
    }
    for (int t = 0; t < blocks; ++t)
        if (block_error[t]) std::rethrow_exception(block_error[t]);

    Eigen::Index centre = 0;
    for (int t = 0; t < blocks; ++t)
        for (const std::size_t c : block[t].per_centre) {
            nl.offsets[centre + 1] = nl.offsets[centre] + c;
            ++centre;
        }
    if (blocks == 1) {  // the serial scan's buffers become the list, without a copy
        block[0].trim();
        nl.vectors.swap(block[0].vectors);
        nl.neighbour = std::move(block[0].neighbours);
        return nl;
    }
    const std::size_t total = nl.offsets[n];
    nl.neighbour.resize(total);
    nl.vectors.resize(static_cast<Eigen::Index>(total), 3);
    std::size_t count = 0;
    for (int t = 0; t < blocks; ++t) {
        const std::size_t entries = block[t].count;
        std::copy(block[t].neighbours.begin(), block[t].neighbours.begin() + entries, nl.neighbour.begin() + count);
        std::copy(block[t].vectors.data(), block[t].vectors.data() + 3 * entries, nl.vectors.data() + 3 * count);
        count += entries;
    }
    return nl;
}

}  // namespace gapd
