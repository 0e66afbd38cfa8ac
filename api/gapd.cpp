#include "api/gapd.hpp"

#include "models/core/openmp.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/formats/model_file.hpp"
#include "models/formats/native_model_file.hpp"
#include "models/gap/gap_novelty.hpp"
#include "server/cli/dipole_options.hpp"
#include "server/cli/model_loading.hpp"

#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace gapd {

// The models as `gapd predict` loads them (server/cli/dipole_options), plus the buffers reused from call to call,
// as a ModelForceEngine keeps them per connection.
struct Model::Impl {
    LoadedModels models;
    int threads = 0;
    int default_threads = openmp::max_threads();  // what threads = 0 restores
    mutable std::mutex mutex;  // guards the workspaces
    mutable GapWorkspace gap_workspace;
    mutable DipoleWorkspace dipole_workspace;
    mutable std::unique_ptr<GapNovelty> novelty;  // made on the first call that asks for it
};

namespace {

KernelPrecision precision_of(const std::string& name) {
    if (name == "float64") return KernelPrecision::Float64;
    if (name == "float32") return KernelPrecision::Float32;
    throw std::invalid_argument("precision must be 'float64' or 'float32' (got '" + name + "')");
}

void check_threads(int threads) {
    if (threads < 0) throw std::invalid_argument("threads must be >= 0 (got " + std::to_string(threads) + ")");
}

Structure to_structure(const AtomsView& atoms) {
    if (atoms.natoms > 0 && (!atoms.positions || !atoms.numbers))
        throw std::invalid_argument("structure: positions and atomic numbers are required");
    Structure s;
    s.pbc = atoms.pbc;
    if (atoms.cell) {
        s.cell = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(atoms.cell);
    } else if (s.any_periodic()) {
        throw std::invalid_argument("structure: periodic, but no cell given");
    }
    const auto n = static_cast<Eigen::Index>(atoms.natoms);
    s.positions = n > 0 ? Matrix3N(Eigen::Map<const Matrix3N>(atoms.positions, n, 3)) : Matrix3N(0, 3);
    s.numbers.assign(atoms.numbers, atoms.numbers + atoms.natoms);
    return s;
}

template <class Matrix>
std::vector<double> flat(const Matrix& m) {
    std::vector<double> out(static_cast<std::size_t>(m.size()));
    Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(out.data(), m.rows(), m.cols()) = m;
    return out;
}

std::array<double, 9> flat3(const Eigen::Matrix3d& m) {
    std::array<double, 9> out{};
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) out[static_cast<std::size_t>(3 * a + b)] = m(a, b);
    return out;
}

}  // namespace

Model::Model(const std::string& path, const ModelOptions& options) : impl_(std::make_unique<Impl>()) {
    check_threads(options.threads);
    const KernelPrecision precision = precision_of(options.precision);
    DipoleOptions dipole_options;
    dipole_options.dipole_model = options.dipole_model;
    if (!options.dipoles) {
        if (!options.dipole_model.empty())
            throw std::invalid_argument("dipole_model given, but dipoles are switched off");
        dipole_options.extras = "none";
    }
    // A native file with only a dipole section is a dipole-only model here (the CLI asks for --dipole-only).
    if (options.dipoles && options.dipole_model.empty() && is_native_model_file(path) &&
        !read_native_model_contents(path, false).gap)
        dipole_options.dipole_only = true;
    impl_->models = load_models(path, dipole_options, parse_radial_mode(options.radial));
    if (impl_->models.gap) impl_->models.gap->set_kernel_precision(precision);
    impl_->threads = options.threads;
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Results Model::compute(const AtomsView& atoms, Quantities q) const {
    const LoadedModels& m = impl_->models;
    if (!m.dipole && (q.partial_dipoles || q.cell_dipoles || q.born_charges))
        throw std::invalid_argument("partial dipoles, cell dipoles and Born charges need a dipole model; none is loaded");
    if (!m.gap && q.novelty) throw std::invalid_argument("novelty needs a GAP model; none is loaded");
    const Structure s = to_structure(atoms);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    // OpenMP's thread count is per calling thread: set it for this one, whichever thread the caller uses.
    openmp::set_num_threads(impl_->threads > 0 ? impl_->threads : impl_->default_threads);

    Results r;
    std::optional<NeighbourList> gap_list;
    if (m.gap) {
        gap_list = build_neighbour_list(s, m.gap->cutoff());
        if (q.novelty && !impl_->novelty) impl_->novelty = std::make_unique<GapNovelty>(*m.gap);
        GapKernelCapture kernel;
        const GapComputeOptions options{nullptr, &impl_->gap_workspace,
                                        q.novelty ? impl_->novelty->capture_target(kernel) : nullptr};
        GapPrediction p = q.forces ? m.gap->compute_with_gradients(s, *gap_list, options)
                                   : m.gap->compute(s, *gap_list, options);
        r.energy = p.energy;
        r.energies.assign(p.atom_energies.data(), p.atom_energies.data() + p.atom_energies.size());
        if (q.forces) {
            r.forces = flat(p.forces);
            r.virial = flat3(p.virial);
            const double volume = std::abs(s.cell.determinant());
            if (s.pbc[0] && s.pbc[1] && s.pbc[2] && volume > 0) {
                r.has_stress = true;
                r.stress = flat3(-p.virial / volume);
            }
        }
        if (q.novelty) {
            const Eigen::VectorXd v = impl_->novelty->of_batch({{s, *gap_list}}, kernel).front();
            r.novelty.assign(v.data(), v.data() + v.size());
        }
    } else if (q.forces) {
        r.forces.assign(3 * atoms.natoms, 0.0);  // a dipole-only model: no forces
    }

    const bool dipoles = m.dipole && (q.dipole || q.partial_dipoles || q.cell_dipoles || q.born_charges);
    if (dipoles) {
        ExtrasSelection selection;
        selection.dipole = true;
        selection.partial_dipoles = q.partial_dipoles;
        selection.cell_dipoles = q.cell_dipoles;
        selection.bec = q.born_charges;
        const DipoleCalculator& dipole = *m.dipole;
        // The GAP's list is shared only for an equal cutoff, as in ModelForceEngine (same summation order).
        std::optional<NeighbourList> dipole_list;
        if (!gap_list || dipole.cutoff() != m.gap->cutoff()) dipole_list = build_neighbour_list(s, dipole.cutoff());
        const NeighbourList& nl = dipole_list ? *dipole_list : *gap_list;
        const DipoleResults d =
            compute_dipole_results(dipole, s, selection, m.roles, nl, {nullptr, &impl_->dipole_workspace});
        r.has_dipole = true;
        for (int a = 0; a < 3; ++a) r.dipole[static_cast<std::size_t>(a)] = d.prediction.total[a];
        if (q.partial_dipoles) r.partial_dipoles = flat(d.prediction.partial);
        if (q.cell_dipoles && d.cells) {
            r.cell_dipole_centres = d.cells->centres;
            r.cell_dipoles = flat(d.cells->dipoles);
        }
        if (q.born_charges) {
            // Internal layout: row 3k+b, column a = dM_a/dr_{k,b}; public: [k][a][b].
            const Matrix3N& z = d.prediction.born_charges;
            r.born_charges.resize(9 * atoms.natoms);
            for (std::size_t k = 0; k < atoms.natoms; ++k)
                for (int a = 0; a < 3; ++a)
                    for (int b = 0; b < 3; ++b)
                        r.born_charges[9 * k + static_cast<std::size_t>(3 * a + b)] =
                            z(static_cast<Eigen::Index>(3 * k) + b, a);
        }
    }
    return r;
}

Results Model::compute_with_gradients(const AtomsView& atoms, Quantities quantities) const {
    quantities.forces = true;
    return compute(atoms, quantities);
}

bool Model::has_gap() const { return impl_->models.gap != nullptr; }
bool Model::has_dipole_model() const { return impl_->models.dipole != nullptr; }

std::vector<int> Model::species() const {
    const LoadedModels& m = impl_->models;
    return m.gap ? m.gap->model().hypers.species : m.dipole->model().hypers.species;
}

double Model::cutoff() const {
    const LoadedModels& m = impl_->models;
    double c = m.gap ? m.gap->cutoff() : 0.0;
    if (m.dipole) c = std::max(c, m.dipole->cutoff());
    return c;
}

int Model::threads() const { return impl_->threads; }

void Model::set_threads(int threads) {
    check_threads(threads);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->threads = threads;
}

std::string Model::precision() const {
    const LoadedModels& m = impl_->models;
    return m.gap && m.gap->kernel_precision() == KernelPrecision::Float32 ? "float32" : "float64";
}

void Model::set_precision(const std::string& precision) {
    const KernelPrecision p = precision_of(precision);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->models.gap) impl_->models.gap->set_kernel_precision(p);
}

const char* version() { return GAPD_VERSION; }

}  // namespace gapd
