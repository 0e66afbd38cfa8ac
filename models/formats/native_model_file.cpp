#include "models/formats/native_model_file.hpp"

#include "models/core/atomic_file_write.hpp"
#include "models/dipoles/dipole_calculator.hpp"
#include "models/descriptors/lambda1_features.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>
#include <vector>

#ifndef GAPD_VERSION
#define GAPD_VERSION "unknown"
#endif

namespace gapd {

namespace {

using nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the native model file stores little-endian arrays");

constexpr char kMagic[8] = {'G', 'A', 'P', 'D', 'M', 'O', 'D', 'L'};
constexpr std::size_t kPrefixSize = 24;  // magic, u32 version, u64 header length, u32 header CRC32
constexpr std::uint64_t kAlignment = 64;

std::uint64_t align_up(std::uint64_t x) { return (x + kAlignment - 1) / kAlignment * kAlignment; }

std::uint32_t crc32_of(const void* data, std::size_t size) {
    return static_cast<std::uint32_t>(crc32_z(0L, static_cast<const Bytef*>(data), size));
}

void put_le(unsigned char* out, std::uint64_t value, int bytes) {
    for (int k = 0; k < bytes; ++k) out[k] = static_cast<unsigned char>(value >> (8 * k));
}

std::uint64_t get_le(const unsigned char* in, int bytes) {
    std::uint64_t value = 0;
    for (int k = 0; k < bytes; ++k) value |= static_cast<std::uint64_t>(in[k]) << (8 * k);
    return value;
}

const char* cutoff_name(CutoffKind kind) { return kind == CutoffKind::ShiftedCosine ? "ShiftedCosine" : "RadialScaling"; }

// One array of the file: where its bytes live in memory (writing) or in the file (reading).
struct ArrayEntry {
    std::string name;
    std::vector<std::uint64_t> shape;
    const double* data = nullptr;
    std::uint64_t offset = 0;
    std::uint64_t nbytes = 0;
    std::uint32_t crc = 0;
};

void check_model(const GapModel& model) {
    const SoapHypers& h = model.hypers;
    if (h.species.empty() || !std::is_sorted(h.species.begin(), h.species.end()) ||
        std::adjacent_find(h.species.begin(), h.species.end()) != h.species.end())
        throw std::invalid_argument("write_native_model: hypers.species must be non-empty, sorted, without repeats");
    const Eigen::Index dim = power_spectrum_size(h);
    int previous = 0;
    for (const SparseSet& s : model.sparse) {
        const std::string what = "write_native_model: sparse set of species " + std::to_string(s.species);
        if (s.species <= previous) throw std::invalid_argument(what + " out of order (must be sorted, unique)");
        previous = s.species;
        if (!std::binary_search(h.species.begin(), h.species.end(), s.species))
            throw std::invalid_argument(what + " is not in hypers.species");
        if (s.points.cols() != dim || s.weights.size() != s.points.rows())
            throw std::invalid_argument(what + ": points " + std::to_string(s.points.rows()) + " x " +
                                        std::to_string(s.points.cols()) + ", weights " +
                                        std::to_string(s.weights.size()) + ", expected M x " + std::to_string(dim) +
                                        " and M");
    }
    try {
        PowerSpectrum(h, model.selected_features);  // validates the selection (range, repeats)
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("write_native_model: ") + e.what());
    }
}

// Extensions this reader understands when a file lists them in required_features (docs/model_format.md).
constexpr const char* kFeatureSelection = "feature_selection";

// The calculator's own consistency checks (shapes against the hypers, species, kernel), so that a file
// gapd writes always loads.
void check_dipole_model(const DipoleModel& model) {
    try {
        DipoleCalculator(model, RadialMode::Spline);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("write_native_model: dipole model: ") + e.what());
    }
    int previous = 0;
    for (const DipoleSparseSet& s : model.sparse) {
        if (s.species <= previous)
            throw std::invalid_argument("write_native_model: dipole sparse set of species " +
                                        std::to_string(s.species) + " out of order (must be sorted, unique)");
        previous = s.species;
    }
}

json soap_json(const SoapHypers& h, const char* descriptor) {
    return {
        {"descriptor", descriptor},
        {"radial_basis", "GTO"},
        {"gaussian_density", "Constant"},
        {"max_radial", h.max_radial},
        {"max_angular", h.max_angular},
        {"gaussian_sigma", h.gaussian_sigma},
        {"normalize", h.normalize},
        {"cutoff_function",
         {{"type", cutoff_name(h.cutoff.kind)},
          {"cutoff", h.cutoff.cutoff},
          {"smooth_width", h.cutoff.smooth_width},
          {"rate", h.cutoff.rate},
          {"scale", h.cutoff.scale},
          {"exponent", h.cutoff.exponent}}},
        {"librascal_spline_accuracy", h.librascal_spline_accuracy},
        {"species", h.species},
    };
}

constexpr const char* kLambda1Descriptor = "spherical_covariants_lambda1";

json dipole_json(const DipoleModel& model) {
    json baseline = json::object();
    for (const auto& [z, v] : model.baseline) baseline[std::to_string(z)] = {v.x(), v.y(), v.z()};
    json sets = json::array();
    for (const DipoleSparseSet& s : model.sparse) {
        const std::string z = std::to_string(s.species);
        json set = {{"species", s.species}, {"points", "dipole_points_" + z}, {"weights", "dipole_weights_" + z}};
        if (model.kernel == DipoleKernel::LinearTimesScalar) set["scalar_points"] = "dipole_scalar_points_" + z;
        sets.push_back(set);
    }
    const CellDipoleRoles& c = model.cell_roles;
    return {
        {"type", "sagpr_dipole"},
        {"description", model.description},
        {"soap", soap_json(model.hypers, kLambda1Descriptor)},
        {"inversion_symmetry", model.inversion_symmetry},
        {"kernel", model.kernel == DipoleKernel::Linear ? "Linear" : "LinearTimesScalar"},
        {"zeta", model.zeta},
        {"baseline", baseline},
        {"cell_roles",
         {{"b_site", c.b_site}, {"a_site", c.a_site}, {"oxygen", c.oxygen}, {"o_shell", c.o_shell}, {"a_shell", c.a_shell}}},
        {"sparse_sets", sets},
    };
}

json header_json(const ModelFileContents& contents, const std::vector<ArrayEntry>& arrays) {
    json directory = json::array();
    for (const ArrayEntry& a : arrays)
        directory.push_back({{"name", a.name},
                             {"dtype", "<f8"},
                             {"shape", a.shape},
                             {"offset", a.offset},
                             {"nbytes", a.nbytes},
                             {"crc32", a.crc}});
    json header = {
        {"format", "gapd-model"},
        {"writer", std::string("gapd ") + GAPD_VERSION},
        {"required_features", json::array()},
    };
    if (contents.gap) {
        const GapModel& model = *contents.gap;
        json self = json::object();
        for (const auto& [z, e] : model.self_contributions) self[std::to_string(z)] = e;
        json sets = json::array();
        for (const SparseSet& s : model.sparse) {
            const std::string z = std::to_string(s.species);
            sets.push_back({{"species", s.species}, {"points", "sparse_points_" + z}, {"weights", "weights_" + z}});
        }
        header["description"] = model.description;
        header["soap"] = soap_json(model.hypers, "power_spectrum");
        header["potential"] = {
            {"type", "sparse_gap"}, {"zeta", model.zeta}, {"self_contributions", self}, {"sparse_sets", sets}};
        if (!model.selected_features.empty()) {
            // Changes the meaning of the sparse points: older readers must refuse the file.
            header["required_features"] = json::array({kFeatureSelection});
            header["potential"]["selected_features"] = model.selected_features;
        }
    } else {
        header["description"] = contents.dipole->description;
    }
    if (contents.dipole) header["dipole"] = dipole_json(*contents.dipole);
    header["arrays"] = directory;
    return header;
}

// Typed access to header fields with one-line errors naming the file and the field.
class HeaderReader {
public:
    explicit HeaderReader(const std::string& path) : path_(path) {}

    [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
        throw std::runtime_error(path_ + ": header field '" + field + "': " + problem);
    }
    const json& member(const json& object, const std::string& parent, const char* key) const {
        const std::string field = parent.empty() ? key : parent + "." + key;
        if (!object.is_object()) fail(parent, "expected an object");
        const auto it = object.find(key);
        if (it == object.end()) throw std::runtime_error(path_ + ": missing header field '" + field + "'");
        return *it;
    }
    double number(const json& v, const std::string& field) const {
        if (!v.is_number()) fail(field, "expected a number, got " + v.dump());
        const double x = v.get<double>();
        if (!std::isfinite(x)) fail(field, "non-finite number");
        return x;
    }
    std::int64_t integer(const json& v, const std::string& field) const {
        if (!v.is_number_integer()) fail(field, "expected an integer, got " + v.dump());
        return v.get<std::int64_t>();
    }
    std::uint64_t unsigned_integer(const json& v, const std::string& field) const {
        if (!v.is_number_unsigned()) fail(field, "expected a non-negative integer, got " + v.dump());
        return v.get<std::uint64_t>();
    }
    std::string string(const json& v, const std::string& field) const {
        if (!v.is_string()) fail(field, "expected a string, got " + v.dump());
        return v.get<std::string>();
    }
    bool boolean(const json& v, const std::string& field) const {
        if (!v.is_boolean()) fail(field, "expected true or false, got " + v.dump());
        return v.get<bool>();
    }
    void expect(const json& v, const std::string& field, const std::string& wanted) const {
        const std::string got = string(v, field);
        if (got != wanted) fail(field, "expected \"" + wanted + "\", got \"" + got + "\" (not supported by this gapd)");
    }

private:
    const std::string& path_;
};

// `p`: the header path of the section ("soap", "dipole.soap"); `descriptor`: the feature kind it must name.
SoapHypers read_hypers(const HeaderReader& r, const json& soap, const std::string& p, const char* descriptor) {
    r.expect(r.member(soap, p, "descriptor"), p + ".descriptor", descriptor);
    r.expect(r.member(soap, p, "radial_basis"), p + ".radial_basis", "GTO");
    r.expect(r.member(soap, p, "gaussian_density"), p + ".gaussian_density", "Constant");
    SoapHypers h;
    const std::int64_t nmax = r.integer(r.member(soap, p, "max_radial"), p + ".max_radial");
    const std::int64_t lmax = r.integer(r.member(soap, p, "max_angular"), p + ".max_angular");
    if (nmax < 1 || nmax > 100) r.fail(p + ".max_radial", "must be in 1..100");
    if (lmax < 0 || lmax > 100) r.fail(p + ".max_angular", "must be in 0..100");
    h.max_radial = static_cast<int>(nmax);
    h.max_angular = static_cast<int>(lmax);
    h.gaussian_sigma = r.number(r.member(soap, p, "gaussian_sigma"), p + ".gaussian_sigma");
    if (!(h.gaussian_sigma > 0)) r.fail(p + ".gaussian_sigma", "must be positive");
    h.normalize = r.boolean(r.member(soap, p, "normalize"), p + ".normalize");
    const json& cutoff = r.member(soap, p, "cutoff_function");
    const std::string kind = r.string(r.member(cutoff, p + ".cutoff_function", "type"), p + ".cutoff_function.type");
    if (kind == "ShiftedCosine")
        h.cutoff.kind = CutoffKind::ShiftedCosine;
    else if (kind == "RadialScaling")
        h.cutoff.kind = CutoffKind::RadialScaling;
    else
        r.fail(p + ".cutoff_function.type", "expected \"ShiftedCosine\" or \"RadialScaling\", got \"" + kind + "\"");
    auto cutoff_number = [&](const char* key) {
        return r.number(r.member(cutoff, p + ".cutoff_function", key), p + ".cutoff_function." + key);
    };
    h.cutoff.cutoff = cutoff_number("cutoff");
    h.cutoff.smooth_width = cutoff_number("smooth_width");
    h.cutoff.rate = cutoff_number("rate");
    h.cutoff.scale = cutoff_number("scale");
    h.cutoff.exponent = cutoff_number("exponent");
    if (!(h.cutoff.cutoff > 0)) r.fail(p + ".cutoff_function.cutoff", "must be positive");
    if (!(h.cutoff.smooth_width >= 0 && h.cutoff.smooth_width <= h.cutoff.cutoff))
        r.fail(p + ".cutoff_function.smooth_width", "must be in [0, cutoff]");
    h.librascal_spline_accuracy =
        r.number(r.member(soap, p, "librascal_spline_accuracy"), p + ".librascal_spline_accuracy");
    if (h.librascal_spline_accuracy < 0) r.fail(p + ".librascal_spline_accuracy", "must be >= 0");
    const json& species = r.member(soap, p, "species");
    if (!species.is_array() || species.empty()) r.fail(p + ".species", "expected a non-empty array");
    for (const json& z : species) {
        const std::int64_t value = r.integer(z, p + ".species");
        if (value < 1 || value > 1000 || (!h.species.empty() && value <= h.species.back()))
            r.fail(p + ".species", "must be sorted atomic numbers without repeats");
        h.species.push_back(static_cast<int>(value));
    }
    // power_spectrum_size() is an int: refuse hypers whose feature count would overflow it.
    const std::int64_t ns = static_cast<std::int64_t>(h.species.size());
    const std::int64_t features = ns * (ns + 1) / 2 * nmax * nmax * (lmax + 1);
    if (features > std::numeric_limits<int>::max())
        r.fail(p, std::to_string(ns) + " species with max_radial " + std::to_string(nmax) + " and max_angular " +
                           std::to_string(lmax) + " give " + std::to_string(features) +
                           " features per environment, more than gapd supports");
    return h;
}

using ArrayLoader = std::function<void(const json& name_field, const std::string& field,
                                       const std::vector<std::uint64_t>& shape, const std::function<double*()>& allocate)>;

int atomic_number_key(const HeaderReader& r, const std::string& key, const std::string& field) {
    std::size_t used = 0;
    int z = 0;
    try {
        z = std::stoi(key, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != key.size() || z < 1 || z > 118) r.fail(field, "key must be an atomic number");
    return z;
}

// The "dipole" section (docs/model_format.md): an SA-GPR lambda=1 model with its own hypers and arrays.
DipoleModel read_dipole_section(const HeaderReader& r, const json& d, const std::map<std::string, ArrayEntry>& directory,
                                const ArrayLoader& load) {
    DipoleModel m;
    r.expect(r.member(d, "dipole", "type"), "dipole.type", "sagpr_dipole");
    if (d.contains("description")) m.description = r.string(d["description"], "dipole.description");
    m.hypers = read_hypers(r, r.member(d, "dipole", "soap"), "dipole.soap", kLambda1Descriptor);
    m.inversion_symmetry = r.boolean(r.member(d, "dipole", "inversion_symmetry"), "dipole.inversion_symmetry");
    const std::string kernel = r.string(r.member(d, "dipole", "kernel"), "dipole.kernel");
    if (kernel == "Linear")
        m.kernel = DipoleKernel::Linear;
    else if (kernel == "LinearTimesScalar")
        m.kernel = DipoleKernel::LinearTimesScalar;
    else
        r.fail("dipole.kernel", "expected \"Linear\" or \"LinearTimesScalar\", got \"" + kernel + "\"");
    const std::int64_t zeta = r.integer(r.member(d, "dipole", "zeta"), "dipole.zeta");
    if (zeta < 1 || zeta > 1000) r.fail("dipole.zeta", "must be a positive integer");
    m.zeta = static_cast<int>(zeta);
    const bool scalar = m.kernel == DipoleKernel::LinearTimesScalar;

    const json& baseline = r.member(d, "dipole", "baseline");
    if (!baseline.is_object()) r.fail("dipole.baseline", "expected an object");
    for (const auto& item : baseline.items()) {
        const std::string field = "dipole.baseline." + item.key();
        const int z = atomic_number_key(r, item.key(), field);
        if (!std::binary_search(m.hypers.species.begin(), m.hypers.species.end(), z))
            r.fail(field, "species not in dipole.soap.species");
        if (!item.value().is_array() || item.value().size() != 3) r.fail(field, "expected 3 numbers");
        for (int a = 0; a < 3; ++a) m.baseline[z][a] = r.number(item.value()[a], field);
    }

    const json& roles = r.member(d, "dipole", "cell_roles");
    auto role = [&](const char* key) {
        const std::string field = std::string("dipole.cell_roles.") + key;
        const std::int64_t z = r.integer(r.member(roles, "dipole.cell_roles", key), field);
        if (z < 1 || z > 118) r.fail(field, "must be an atomic number");
        return static_cast<int>(z);
    };
    auto shell = [&](const char* key) {
        const std::string field = std::string("dipole.cell_roles.") + key;
        const double x = r.number(r.member(roles, "dipole.cell_roles", key), field);
        if (!(x > 0)) r.fail(field, "must be positive");
        return x;
    };
    m.cell_roles = {role("b_site"), role("a_site"), role("oxygen"), shell("o_shell"), shell("a_shell")};

    // lambda=1 features are at most 6x the power spectrum: refuse sizes that would overflow an int.
    const std::int64_t ns = static_cast<std::int64_t>(m.hypers.species.size());
    const std::int64_t bound = ns * (ns + 1) / 2 * m.hypers.max_radial * m.hypers.max_radial *
                               (2 * m.hypers.max_angular + 2) * 3;
    if (bound > std::numeric_limits<int>::max()) r.fail("dipole.soap", "too many lambda=1 features per environment");
    const auto cols = static_cast<std::uint64_t>(Lambda1Features(m.hypers, m.inversion_symmetry).size());
    const auto dim = static_cast<std::uint64_t>(power_spectrum_size(m.hypers));

    const json& sets = r.member(d, "dipole", "sparse_sets");
    if (!sets.is_array()) r.fail("dipole.sparse_sets", "expected an array");
    for (std::size_t i = 0; i < sets.size(); ++i) {
        const std::string field = "dipole.sparse_sets[" + std::to_string(i) + "]";
        DipoleSparseSet s;
        const std::int64_t z = r.integer(r.member(sets[i], field, "species"), field + ".species");
        if (!std::binary_search(m.hypers.species.begin(), m.hypers.species.end(), z))
            r.fail(field + ".species", std::to_string(z) + " is not in dipole.soap.species");
        if (!m.sparse.empty() && z <= m.sparse.back().species)
            r.fail(field + ".species", "sparse sets must be sorted by species, without repeats");
        s.species = static_cast<int>(z);
        const json& weights_name = r.member(sets[i], field, "weights");
        const auto it = directory.find(r.string(weights_name, field + ".weights"));
        if (it == directory.end() || it->second.shape.size() != 2)
            r.fail(field + ".weights", "must name a 2-D array in the directory");
        const std::uint64_t rows = it->second.shape[0];
        load(weights_name, field + ".weights", {rows, 3}, [&] {
            s.weights.resize(static_cast<Eigen::Index>(rows), 3);
            return s.weights.data();
        });
        load(r.member(sets[i], field, "points"), field + ".points", {rows, cols}, [&] {
            s.points.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
            return s.points.data();
        });
        if (scalar) {
            load(r.member(sets[i], field, "scalar_points"), field + ".scalar_points", {rows, dim}, [&] {
                s.scalar_points.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(dim));
                return s.scalar_points.data();
            });
        } else if (sets[i].contains("scalar_points")) {
            r.fail(field + ".scalar_points", "only for the LinearTimesScalar kernel");
        }
        m.sparse.push_back(std::move(s));
    }
    return m;
}

class FileReader {
public:
    explicit FileReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
        if (!in_) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
        in_.seekg(0, std::ios::end);
        size_ = static_cast<std::uint64_t>(in_.tellg());
    }
    std::uint64_t size() const { return size_; }
    void read(std::uint64_t offset, void* out, std::uint64_t n) {
        in_.seekg(static_cast<std::streamoff>(offset));
        if (!in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n)))
            throw std::runtime_error(path_ + ": read error at byte " + std::to_string(offset));
    }

private:
    const std::string& path_;
    std::ifstream in_;
    std::uint64_t size_ = 0;
};

}  // namespace

void write_native_model(const std::string& path, const GapModel& model) {
    ModelFileContents contents;
    contents.gap = model;
    write_native_model(path, contents);
}

void write_native_model(const std::string& path, const ModelFileContents& contents) {
    if (!contents.gap && !contents.dipole)
        throw std::invalid_argument("write_native_model: neither a GAP nor a dipole model to write");
    std::vector<ArrayEntry> arrays;
    auto add_matrix = [&](const std::string& name, const RowMatrix& m) {
        const auto rows = static_cast<std::uint64_t>(m.rows());
        const auto cols = static_cast<std::uint64_t>(m.cols());
        arrays.push_back({name, {rows, cols}, m.data(), 0, rows * cols * 8, 0});
    };
    if (contents.gap) {
        check_model(*contents.gap);
        for (const SparseSet& s : contents.gap->sparse) {
            const std::string z = std::to_string(s.species);
            const auto rows = static_cast<std::uint64_t>(s.points.rows());
            add_matrix("sparse_points_" + z, s.points);
            arrays.push_back({"weights_" + z, {rows}, s.weights.data(), 0, rows * 8, 0});
        }
    }
    if (contents.dipole) {
        check_dipole_model(*contents.dipole);
        for (const DipoleSparseSet& s : contents.dipole->sparse) {
            const std::string z = std::to_string(s.species);
            add_matrix("dipole_points_" + z, s.points);
            add_matrix("dipole_weights_" + z, s.weights);
            if (contents.dipole->kernel == DipoleKernel::LinearTimesScalar)
                add_matrix("dipole_scalar_points_" + z, s.scalar_points);
        }
    }
    for (ArrayEntry& a : arrays) a.crc = crc32_of(a.data, a.nbytes);

    // Offsets are absolute and printed in the header, whose length depends on them: grow the space
    // reserved for the header until it fits (converges in a step or two).
    std::uint64_t data_start = align_up(kPrefixSize + 1024);
    std::string header;
    while (true) {
        std::uint64_t offset = data_start;
        for (ArrayEntry& a : arrays) {
            a.offset = offset;
            offset = align_up(offset + a.nbytes);
        }
        // Indented to be readable with `head -c`; invalid UTF-8 in the description is replaced, not fatal.
        header = header_json(contents, arrays).dump(1, ' ', false, json::error_handler_t::replace);
        const std::uint64_t needed = align_up(kPrefixSize + header.size() + 1);
        if (needed <= data_start) break;
        data_start = needed;
    }
    header.resize(data_start - kPrefixSize, ' ');  // JSON allows trailing whitespace
    header.back() = '\n';

    unsigned char prefix[kPrefixSize];
    std::memcpy(prefix, kMagic, 8);
    put_le(prefix + 8, kNativeModelFormatVersion, 4);
    put_le(prefix + 12, header.size(), 8);
    put_le(prefix + 20, crc32_of(header.data(), header.size()), 4);

    write_file_atomically(path, [&](std::ostream& out) {
        out.write(reinterpret_cast<const char*>(prefix), kPrefixSize);
        out << header;
        std::uint64_t position = data_start;
        static const char zeros[kAlignment] = {};
        for (const ArrayEntry& a : arrays) {
            out.write(zeros, static_cast<std::streamsize>(a.offset - position));
            out.write(reinterpret_cast<const char*>(a.data), static_cast<std::streamsize>(a.nbytes));
            position = a.offset + a.nbytes;
        }
    });
}

ModelFileContents read_native_model_contents(const std::string& path, bool read_dipole) {
    FileReader file(path);
    if (file.size() < kPrefixSize)
        throw std::runtime_error(path + ": truncated: " + std::to_string(file.size()) +
                                 " bytes, shorter than the 24-byte prefix of a gapd model file");
    unsigned char prefix[kPrefixSize];
    file.read(0, prefix, kPrefixSize);
    if (std::memcmp(prefix, kMagic, 8) != 0)
        throw std::runtime_error(path + ": not a gapd native model file (the first 8 bytes are not GAPDMODL)");
    const auto version = static_cast<std::uint32_t>(get_le(prefix + 8, 4));
    if (version > kNativeModelFormatVersion)
        throw std::runtime_error(path + ": model format version " + std::to_string(version) +
                                 " is newer than this gapd supports (version " +
                                 std::to_string(kNativeModelFormatVersion) + "); use a newer gapd");
    if (version == 0) throw std::runtime_error(path + ": invalid model format version 0");
    const std::uint64_t header_size = get_le(prefix + 12, 8);
    if (header_size > file.size() - kPrefixSize)
        throw std::runtime_error(path + ": truncated: the header needs " + std::to_string(header_size) +
                                 " bytes after the prefix, the file has " +
                                 std::to_string(file.size() - kPrefixSize));
    std::string header_text(header_size, '\0');
    file.read(kPrefixSize, header_text.data(), header_size);
    if (crc32_of(header_text.data(), header_text.size()) != get_le(prefix + 20, 4))
        throw std::runtime_error(path + ": header checksum mismatch (file corrupted)");
    json header;
    try {
        header = json::parse(header_text);
    } catch (const json::exception& e) {
        throw std::runtime_error(path + ": header is not valid JSON: " + e.what());
    }
    const HeaderReader r(path);
    if (!header.is_object()) throw std::runtime_error(path + ": the header is not a JSON object");
    r.expect(r.member(header, "", "format"), "format", "gapd-model");

    const json& required = r.member(header, "", "required_features");
    if (!required.is_array()) r.fail("required_features", "expected an array");
    for (const json& name : required)
        if (name != kFeatureSelection)
            r.fail("required_features", "this gapd does not support " + required.dump() + "; use a newer gapd");

    // Array directory: every entry is checked against the file size, whether used or not.
    std::map<std::string, ArrayEntry> directory;
    std::map<std::string, std::string> dtypes;
    const json& arrays = r.member(header, "", "arrays");
    if (!arrays.is_array()) r.fail("arrays", "expected an array");
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        const std::string field = "arrays[" + std::to_string(i) + "]";
        ArrayEntry a;
        a.name = r.string(r.member(arrays[i], field, "name"), field + ".name");
        const std::string where = field + " ('" + a.name + "')";
        const std::string dtype = r.string(r.member(arrays[i], field, "dtype"), where + ".dtype");
        const json& shape = r.member(arrays[i], field, "shape");
        if (!shape.is_array()) r.fail(where + ".shape", "expected an array");
        for (const json& n : shape) a.shape.push_back(r.unsigned_integer(n, where + ".shape"));
        a.offset = r.unsigned_integer(r.member(arrays[i], field, "offset"), where + ".offset");
        a.nbytes = r.unsigned_integer(r.member(arrays[i], field, "nbytes"), where + ".nbytes");
        a.crc = static_cast<std::uint32_t>(r.unsigned_integer(r.member(arrays[i], field, "crc32"), where + ".crc32"));
        // nbytes must be what the shape says (checked here, before anything is allocated from the shape: the
        // file size bounds nbytes, so it then bounds every allocation too).
        std::uint64_t elements = 1;
        for (const std::uint64_t n : a.shape) {
            if (n != 0 && elements > std::numeric_limits<std::uint64_t>::max() / 8 / n)
                r.fail(where + ".shape", "too large");
            elements *= n;
        }
        if (dtype == "<f8" && a.nbytes != elements * 8)
            r.fail(where + ".nbytes", std::to_string(a.nbytes) + " does not match its shape (" +
                                          std::to_string(elements) + " float64 values)");
        if (a.offset % kAlignment != 0 || a.offset < kPrefixSize + header_size)
            r.fail(where + ".offset", "must be 64-byte aligned and after the header");
        if (a.nbytes > file.size() || a.offset > file.size() - a.nbytes)
            throw std::runtime_error(path + ": truncated: array '" + a.name + "' ends at byte " +
                                     std::to_string(a.offset + a.nbytes) + ", the file has " +
                                     std::to_string(file.size()) + " bytes");
        if (directory.count(a.name) != 0) r.fail(where + ".name", "repeated array name");
        dtypes[a.name] = dtype;
        directory[a.name] = a;
    }

    // Reads a float64 array named in a header field straight into `out`, after checking shape and checksum.
    // `allocate` sizes the destination and is called only after the shape and size have been checked.
    auto load = [&](const json& name_field, const std::string& field, const std::vector<std::uint64_t>& shape,
                    const std::function<double*()>& allocate) {
        const std::string name = r.string(name_field, field);
        const auto it = directory.find(name);
        if (it == directory.end()) r.fail(field, "names array '" + name + "', which is not in the directory");
        const ArrayEntry& a = it->second;
        const std::string what = path + ": array '" + name + "': ";
        if (dtypes[name] != "<f8")
            throw std::runtime_error(what + "dtype '" + dtypes[name] + "' is not supported (expected '<f8')");
        if (a.shape != shape) {
            std::string got, want;
            for (auto n : a.shape) got += (got.empty() ? "" : " x ") + std::to_string(n);
            for (auto n : shape) want += (want.empty() ? "" : " x ") + std::to_string(n);
            throw std::runtime_error(what + "shape " + got + " does not match the hypers (expected " + want + ")");
        }
        std::uint64_t count = 1;
        for (auto n : shape) count *= n;
        if (a.nbytes != count * 8)
            throw std::runtime_error(what + "nbytes " + std::to_string(a.nbytes) + " does not match its shape");
        double* out = allocate();
        file.read(a.offset, out, a.nbytes);
        if (crc32_of(out, a.nbytes) != a.crc) throw std::runtime_error(what + "checksum mismatch (file corrupted)");
        for (std::uint64_t k = 0; k < count; ++k)
            if (!std::isfinite(out[k])) throw std::runtime_error(what + "non-finite value at flat index " + std::to_string(k));
    };

    // A file holds a GAP iff it has "potential", a dipole model iff it has "dipole" (docs/model_format.md).
    ModelFileContents contents;
    std::string description;
    if (header.contains("description")) description = r.string(header["description"], "description");
    if (!header.contains("potential") && !header.contains("dipole"))
        throw std::runtime_error(path + ": missing header field 'potential' (a GAP) or 'dipole' (a dipole model)");
    if (read_dipole && header.contains("dipole")) contents.dipole = read_dipole_section(r, header["dipole"], directory, load);
    if (!header.contains("potential")) return contents;
    GapModel model;
    model.description = description;
    model.hypers = read_hypers(r, r.member(header, "", "soap"), "soap", "power_spectrum");
    const auto dim = static_cast<std::uint64_t>(power_spectrum_size(model.hypers));

    const json& potential = r.member(header, "", "potential");
    r.expect(r.member(potential, "potential", "type"), "potential.type", "sparse_gap");
    const std::int64_t zeta = r.integer(r.member(potential, "potential", "zeta"), "potential.zeta");
    if (zeta < 1 || zeta > 1000) r.fail("potential.zeta", "must be a positive integer");
    model.zeta = static_cast<int>(zeta);
    const json& self = r.member(potential, "potential", "self_contributions");
    if (!self.is_object()) r.fail("potential.self_contributions", "expected an object");
    for (const auto& item : self.items()) {
        const std::string field = "potential.self_contributions." + item.key();
        std::size_t used = 0;
        int z = 0;
        try {
            z = std::stoi(item.key(), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.key().size() || z < 1) r.fail(field, "key must be an atomic number");
        model.self_contributions[z] = r.number(item.value(), field);
    }
    const json& sets = r.member(potential, "potential", "sparse_sets");
    if (!sets.is_array()) r.fail("potential.sparse_sets", "expected an array");
    for (std::size_t i = 0; i < sets.size(); ++i) {
        const std::string field = "potential.sparse_sets[" + std::to_string(i) + "]";
        SparseSet s;
        const std::int64_t z = r.integer(r.member(sets[i], field, "species"), field + ".species");
        if (!std::binary_search(model.hypers.species.begin(), model.hypers.species.end(), z))
            r.fail(field + ".species", std::to_string(z) + " is not in soap.species");
        if (!model.sparse.empty() && z <= model.sparse.back().species)
            r.fail(field + ".species", "sparse sets must be sorted by species, without repeats");
        s.species = static_cast<int>(z);
        // The number of sparse points comes from the weights array; the points must agree with it.
        const json& weights_name = r.member(sets[i], field, "weights");
        const std::string wname = r.string(weights_name, field + ".weights");
        const auto it = directory.find(wname);
        if (it == directory.end() || it->second.shape.size() != 1)
            r.fail(field + ".weights", "must name a 1-D array in the directory");
        const std::uint64_t m = it->second.shape[0];
        load(weights_name, field + ".weights", {m}, [&] {
            s.weights.resize(static_cast<Eigen::Index>(m));
            return s.weights.data();
        });
        load(r.member(sets[i], field, "points"), field + ".points", {m, dim}, [&] {
            s.points.resize(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(dim));
            return s.points.data();
        });
        model.sparse.push_back(std::move(s));
    }
    if (potential.contains("selected_features")) {
        const json& sel = potential["selected_features"];
        if (!sel.is_array() || sel.empty()) r.fail("potential.selected_features", "expected a non-empty array of indices");
        for (const json& v : sel) {
            const std::int64_t idx = r.integer(v, "potential.selected_features");
            if (idx < 0 || idx > std::numeric_limits<int>::max()) r.fail("potential.selected_features", "index out of range");
            model.selected_features.push_back(static_cast<int>(idx));
        }
        try {
            PowerSpectrum(model.hypers, model.selected_features);
        } catch (const std::invalid_argument& e) {
            r.fail("potential.selected_features", e.what());
        }
    }
    contents.gap = std::move(model);
    return contents;
}

GapModel read_native_model(const std::string& path) {
    ModelFileContents contents = read_native_model_contents(path, /*read_dipole=*/false);
    if (!contents.gap)
        throw std::runtime_error(path + ": holds only a dipole model, no GAP (header field 'potential' is absent)");
    return std::move(*contents.gap);
}

bool is_native_model_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {};
    return in.read(magic, 8) && std::memcmp(magic, kMagic, 8) == 0;
}

GapModel read_model_file(const std::string& path) {
    if (is_native_model_file(path)) return read_native_model(path);
    return read_model_file_contents(path).gap.value();
}

ModelFileContents read_model_file_contents(const std::string& path) {
    if (is_native_model_file(path)) return read_native_model_contents(path);
    // librascal files are JSON ('{' after optional white space) or gzip (1f 8b); anything else is not a model.
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open model file");
    int c = in.get();
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t') c = in.get();
    const bool gzip = c == 0x1f && in.get() == 0x8b;
    if (c != '{' && !gzip)
        throw std::runtime_error(path + ": not a model file: neither gapd's native format (magic GAPDMODL) nor a "
                                        "librascal dump_obj JSON (.json or .json.gz)");
    ModelFileContents contents;
    contents.gap = read_librascal_model(path);
    return contents;
}

}  // namespace gapd
