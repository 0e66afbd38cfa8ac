// gapd._gapd: the C++ API (<gapd/gapd.hpp>) for Python. Inputs are read in place when they already are
// C-contiguous float64 (positions, cell) arrays; results are numpy views of the C++ result vectors (owned by a
// capsule, no copy). The GIL is released while a structure is evaluated.

#include <gapd/gapd.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

// Arrays viewing the vectors of one Results, which the capsule keeps alive as long as any of them.
py::dict to_dict(gapd::Results&& moved, std::size_t natoms) {
    auto* r = new gapd::Results(std::move(moved));
    py::capsule owner(r, [](void* p) { delete static_cast<gapd::Results*>(p); });
    const auto n = static_cast<py::ssize_t>(natoms);
    auto view = [&](double* data, std::vector<py::ssize_t> shape) { return py::array_t<double>(shape, data, owner); };
    py::dict d;
    d["energy"] = r->energy;
    if (!r->energies.empty() || natoms == 0) d["energies"] = view(r->energies.data(), {n});
    if (!r->forces.empty()) {
        d["forces"] = view(r->forces.data(), {n, 3});
        d["virial"] = view(r->virial.data(), {3, 3});
        if (r->has_stress) d["stress"] = view(r->stress.data(), {3, 3});
    }
    if (r->has_dipole) d["dipole"] = view(r->dipole.data(), {3});
    if (!r->partial_dipoles.empty()) d["partial_dipoles"] = view(r->partial_dipoles.data(), {n, 3});
    if (!r->cell_dipole_centres.empty()) {
        const auto m = static_cast<py::ssize_t>(r->cell_dipole_centres.size());
        d["cell_dipoles"] = view(r->cell_dipoles.data(), {m, 3});
        d["cell_dipole_centres"] = py::array_t<int>({m}, r->cell_dipole_centres.data(), owner);
    }
    if (!r->born_charges.empty()) d["born_charges"] = view(r->born_charges.data(), {n, 3, 3});
    if (!r->novelty.empty()) d["novelty"] = view(r->novelty.data(), {n});
    return d;
}

py::dict compute(const gapd::Model& model, bool gradients, const DoubleArray& positions, const IntArray& numbers,
                 const std::optional<DoubleArray>& cell, const std::array<bool, 3>& pbc, bool dipole,
                 bool partial_dipoles, bool cell_dipoles, bool born_charges, bool novelty) {
    if (positions.ndim() != 2 || positions.shape(1) != 3)
        throw std::invalid_argument("positions must have shape (N, 3)");
    const auto natoms = static_cast<std::size_t>(positions.shape(0));
    if (numbers.ndim() != 1 || static_cast<std::size_t>(numbers.shape(0)) != natoms)
        throw std::invalid_argument("numbers must have shape (N,) with N = " + std::to_string(natoms) +
                                    " (one atomic number per position)");
    if (cell && (cell->ndim() != 2 || cell->shape(0) != 3 || cell->shape(1) != 3))
        throw std::invalid_argument("cell must have shape (3, 3), rows = lattice vectors");
    gapd::AtomsView atoms;
    atoms.natoms = natoms;
    atoms.positions = positions.data();
    atoms.numbers = numbers.data();
    atoms.cell = cell ? cell->data() : nullptr;
    atoms.pbc = pbc;
    gapd::Quantities q;
    q.forces = gradients;
    q.dipole = dipole;
    q.partial_dipoles = partial_dipoles;
    q.cell_dipoles = cell_dipoles;
    q.born_charges = born_charges;
    q.novelty = novelty;
    gapd::Results r;
    {
        py::gil_scoped_release release;
        r = model.compute(atoms, q);
    }
    return to_dict(std::move(r), natoms);
}

}  // namespace

PYBIND11_MODULE(_gapd, m) {
    m.doc() = "gapd: SOAP-GAP energies, forces and stress, SA-GPR dipoles (C++ API <gapd/gapd.hpp>)";
    m.attr("__version__") = gapd::version();

    py::class_<gapd::Model>(m, "Model", "A loaded gapd model (GAP, optionally with a dipole model)")
        .def(py::init([](const std::string& path, int threads, const std::string& precision, const std::string& radial,
                         const std::optional<std::string>& dipole_model, bool dipoles) {
                 gapd::ModelOptions o;
                 o.threads = threads;
                 o.precision = precision;
                 o.radial = radial;
                 o.dipole_model = dipole_model.value_or("");
                 o.dipoles = dipoles;
                 return gapd::Model(path, o);
             }),
             py::arg("path"), py::kw_only(), py::arg("threads") = 0, py::arg("precision") = "float64",
             py::arg("radial") = "spline", py::arg("dipole_model") = py::none(), py::arg("dipoles") = true,
             "Load a gapd native model or a librascal JSON model. threads=0: OpenMP's default.")
        .def(
            "compute",
            [](const gapd::Model& model, const DoubleArray& positions, const IntArray& numbers,
               const std::optional<DoubleArray>& cell, const std::array<bool, 3>& pbc, bool dipole,
               bool partial_dipoles, bool cell_dipoles, bool born_charges, bool novelty) {
                return compute(model, false, positions, numbers, cell, pbc, dipole, partial_dipoles, cell_dipoles,
                               born_charges, novelty);
            },
            py::arg("positions"), py::arg("numbers"), py::arg("cell") = py::none(),
            py::arg("pbc") = std::array<bool, 3>{{true, true, true}}, py::kw_only(), py::arg("dipole") = true,
            py::arg("partial_dipoles") = false, py::arg("cell_dipoles") = false, py::arg("born_charges") = false,
            py::arg("novelty") = false,
            "Energy (eV), per-atom 'energies' and, with a dipole model, the dipole quantities asked for: a dict of "
            "numpy arrays; novelty=True adds the per-atom 'novelty' (docs/novelty.md)")
        .def(
            "compute_with_gradients",
            [](const gapd::Model& model, const DoubleArray& positions, const IntArray& numbers,
               const std::optional<DoubleArray>& cell, const std::array<bool, 3>& pbc, bool dipole,
               bool partial_dipoles, bool cell_dipoles, bool born_charges, bool novelty) {
                return compute(model, true, positions, numbers, cell, pbc, dipole, partial_dipoles, cell_dipoles,
                               born_charges, novelty);
            },
            py::arg("positions"), py::arg("numbers"), py::arg("cell") = py::none(),
            py::arg("pbc") = std::array<bool, 3>{{true, true, true}}, py::kw_only(), py::arg("dipole") = true,
            py::arg("partial_dipoles") = false, py::arg("cell_dipoles") = false, py::arg("born_charges") = false,
            py::arg("novelty") = false,
            "As compute, plus 'forces' (eV/Å), 'virial' (eV) and, for a fully periodic cell, 'stress' (3x3, "
            "eV/Å^3, ASE's sign)")
        .def_property_readonly("has_gap", &gapd::Model::has_gap)
        .def_property_readonly("has_dipole_model", &gapd::Model::has_dipole_model)
        .def_property_readonly("species", &gapd::Model::species, "atomic numbers the model knows")
        .def_property_readonly("cutoff", &gapd::Model::cutoff, "Å")
        .def_property("threads", &gapd::Model::threads, &gapd::Model::set_threads, "OpenMP threads; 0 = default")
        .def_property("precision", &gapd::Model::precision, &gapd::Model::set_precision, "'float64' or 'float32'");
}
