#pragma once
// gapd's public C++ API (installed as <gapd/gapd.hpp>, library gapd::gapd): load a model file once, then
// evaluate energy, per-atom energies, forces, virial and stress of its SOAP-GAP, and with a dipole model the
// dipole, partial dipoles, Ti-centred cell dipoles and Born charges, for structures given as plain arrays.
//
// Units are the models' (and ASE's): positions and cell in Å, energies in eV, forces eV/Å, virial eV
// (-dE/d(strain) = -stress * V), stress eV/Å^3 with ASE's sign ((1/V) dE/d(strain)), dipoles e·Å, Born charges e.
// The numbers are those of `gapd predict` and `gapd serve` (same calculators, same summation order).
//
// Only the standard library appears here: the models and Eigen stay behind Model's pointer to its implementation.

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#if defined(_WIN32)
#define GAPD_API
#else
#define GAPD_API __attribute__((visibility("default")))
#endif

namespace gapd {

// How a model is loaded and evaluated.
struct ModelOptions {
    int threads = 0;                   // OpenMP threads per call; 0 = OpenMP's default (OMP_NUM_THREADS or all cores)
    std::string precision = "float64"; // kernel GEMMs: "float64" or "float32" (docs/benchmarks.md)
    std::string radial = "spline";     // radial integrals: "spline", "exact" or "librascal-spline"
    std::string dipole_model;          // a file with a dipole section; "" = the model file's own, if any
    bool dipoles = true;               // false: ignore any dipole model (energy and forces only)
};

// One structure, borrowed for the duration of a call (nothing is copied but what the models need).
struct AtomsView {
    std::size_t natoms = 0;
    const double* positions = nullptr;  // natoms x 3, row-major, Å
    const double* cell = nullptr;       // 3 x 3, row k = lattice vector k (ASE), Å; may be null if no pbc
    const int* numbers = nullptr;       // natoms atomic numbers
    std::array<bool, 3> pbc{{true, true, true}};
};

// What a call computes. Energy and per-atom energies always (with a GAP); dipole quantities only with a dipole
// model (asking for partial dipoles, cell dipoles or Born charges without one is an error; `dipole` is
// silently skipped then, so that the defaults work for any model).
struct Quantities {
    bool forces = false;           // forces, virial and (fully periodic cell) stress
    bool dipole = true;            // total dipole M
    bool partial_dipoles = false;  // mu_i
    bool cell_dipoles = false;     // one per B-site (Ti) atom
    bool born_charges = false;     // dM_a/dr_{k,b}: three adjoint passes, about the cost of the dipoles again
    bool novelty = false;          // per atom, against the GAP's sparse points (docs/novelty.md); needs a GAP
};

struct Results {
    double energy = 0;                  // eV
    std::vector<double> energies;       // natoms, eV
    std::vector<double> forces;         // natoms x 3, eV/Å (empty unless Quantities::forces)
    std::array<double, 9> virial{};     // 3 x 3 row-major, eV
    bool has_stress = false;            // forces asked, pbc on all three axes and a non-zero volume
    std::array<double, 9> stress{};     // 3 x 3 row-major, eV/Å^3, ASE's sign
    bool has_dipole = false;
    std::array<double, 3> dipole{};     // e·Å
    std::vector<double> partial_dipoles;     // natoms x 3, e·Å
    std::vector<int> cell_dipole_centres;    // the B-site atoms, ascending
    std::vector<double> cell_dipoles;        // centres x 3, e·Å
    std::vector<double> born_charges;        // natoms x 3 x 3, [k][a][b] = dM_a/dr_{k,b}, e
    std::vector<double> novelty;             // natoms, in [0, 1] (empty unless Quantities::novelty)
};

// Calls on one Model are serialised (it reuses its buffers from call to call); give each thread its own Model to
// evaluate structures in parallel.
class GAPD_API Model {
public:
    // Reads a gapd native model (a GAP, optionally with a dipole section) or a librascal JSON (.json/.json.gz).
    // Throws std::invalid_argument / std::runtime_error with a one-line message naming the file or option.
    explicit Model(const std::string& path, const ModelOptions& options = {});
    ~Model();
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    // Energy, per-atom energies and (with a dipole model) the dipole quantities asked for; no forces.
    Results compute(const AtomsView& atoms, Quantities quantities = {}) const;
    // The same plus forces, virial and stress (Quantities::forces forced on).
    Results compute_with_gradients(const AtomsView& atoms, Quantities quantities = {}) const;

    bool has_gap() const;
    bool has_dipole_model() const;
    std::vector<int> species() const;  // atomic numbers the model knows (the GAP's, or the dipole model's)
    double cutoff() const;             // Å, the largest of the loaded models
    int threads() const;
    void set_threads(int threads);     // 0 = OpenMP's default
    std::string precision() const;
    void set_precision(const std::string& precision);  // "float64" or "float32"

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

GAPD_API const char* version();

}  // namespace gapd
