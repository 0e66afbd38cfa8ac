#include "models/formats/librascal_model_reader.hpp"
#include "models/core/regular_file.hpp"
#include "models/core/text_excerpt.hpp"
#include "models/formats/json_error_text.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <utility>
#include <vector>

namespace gapd {

namespace {

using nlohmann::json;

// Feeds zlib's output to the JSON parser, so the 100+ MB text of a large model is never held in memory.
// gzread passes non-gzip files through unchanged, so plain JSON goes the same way.
class GzStreamBuf : public std::streambuf {
public:
    explicit GzStreamBuf(gzFile file) : file_(file), buffer_(1 << 18) {}

    // Empty if the compressed stream was complete and intact, else zlib's description of the problem.
    std::string error() const {
        if (!read_error_.empty()) return read_error_;
        int code = Z_OK;
        const char* message = gzerror(file_, &code);
        // Z_BUF_ERROR after the end of the data: the gzip stream stopped in the middle.
        if (code == Z_BUF_ERROR) return "unexpected end of file";
        if (code != Z_OK) return message;
        return {};
    }

protected:
    int_type underflow() override {
        if (!read_error_.empty()) return traits_type::eof();
        const int n = gzread(file_, buffer_.data(), static_cast<unsigned>(buffer_.size()));
        if (n < 0) {
            int code = Z_OK;
            const char* message = gzerror(file_, &code);
            read_error_ = code == Z_ERRNO ? std::strerror(errno) : message;
            return traits_type::eof();
        }
        if (n == 0) return traits_type::eof();
        setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
        return traits_type::to_int_type(buffer_[0]);
    }

private:
    gzFile file_;
    std::vector<char> buffer_;
    std::string read_error_;
};

json parse_file(const std::string& path) {
    require_regular_file(path, "model file");
    gzFile file = gzopen(path.c_str(), "rb");
    if (file == nullptr) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    gzbuffer(file, 1 << 18);
    GzStreamBuf buf(file);
    std::istream in(&buf);
    json doc;
    std::string parse_error;
    try {
        doc = json::parse(in);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for numbers beyond double
        parse_error = json_error_text(e.what());
    }
    // A damaged gzip stream usually also breaks the JSON; report the root cause.
    const std::string gzip_error = buf.error();
    const bool compressed = gzdirect(file) == 0;
    gzclose(file);
    if (!gzip_error.empty())
        throw std::runtime_error(path + ": " + (compressed ? "corrupted or truncated gzip data: " : "read error: ") +
                                 gzip_error);
    if (!parse_error.empty())
        throw std::runtime_error(path + ": invalid JSON (truncated or corrupted file, or NaN/Infinity, which JSON "
                                        "does not allow): " + parse_error);
    return doc;
}

// A JSON value together with its dotted path, so every error can name the file and the field.
class Node {
public:
    Node(json& value, std::string path, const std::string& file) : value_(&value), path_(std::move(path)), file_(&file) {}

    [[noreturn]] void fail(const std::string& problem) const {
        throw std::runtime_error(*file_ + ": field '" + path_ + "': " + problem);
    }

    Node operator[](const char* key) const {
        const std::string child = path_.empty() ? key : path_ + "." + key;
        if (!value_->is_object()) fail("expected an object with field '" + std::string(key) + "'");
        const auto it = value_->find(key);
        if (it == value_->end()) throw std::runtime_error(*file_ + ": missing field '" + child + "'");
        return Node(*it, child, *file_);
    }
    bool has(const char* key) const { return value_->is_object() && value_->contains(key); }

    std::size_t size() const {
        if (!value_->is_array()) fail("expected an array");
        return value_->size();
    }
    Node at(std::size_t i) const { return Node((*value_)[i], path_ + "[" + std::to_string(i) + "]", *file_); }

    std::string string() const {
        if (!value_->is_string()) fail("expected a string, got " + excerpt(value_->dump()));
        return value_->get<std::string>();
    }
    bool boolean() const {
        if (!value_->is_boolean()) fail("expected true or false, got " + excerpt(value_->dump()));
        return value_->get<bool>();
    }
    double number() const {
        if (!value_->is_number()) fail("expected a number, got " + brief());
        const double x = value_->get<double>();
        if (!std::isfinite(x)) fail("non-finite number");
        return x;
    }
    // Integral numbers written as floats (2.0) are accepted.
    long long integer(const char* what = "an integer") const {
        if (value_->is_number_integer()) return value_->get<long long>();
        if (value_->is_number_float()) {
            const double x = value_->get<double>();
            if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 1e15) return static_cast<long long>(x);
        }
        fail(std::string("must be ") + what + ", got " + brief());
    }
    void expect(const std::string& wanted) const {
        const std::string got = string();
        if (got != wanted) fail("expected \"" + wanted + "\", got \"" + excerpt(got) + "\" (not supported by gapd)");
    }
    json& raw() const { return *value_; }
    const std::string& path() const { return path_; }

private:
    std::string brief() const {
        std::string text = value_->dump();
        if (text.size() > 40) text = text.substr(0, 40) + "...";
        return text;
    }

    json* value_;
    std::string path_;
    const std::string* file_;
};

// librascal writes C++ maps as lists of [key, value] pairs.
std::vector<std::pair<Node, Node>> map_entries(const Node& list) {
    std::vector<std::pair<Node, Node>> entries;
    const std::size_t n = list.size();
    for (std::size_t i = 0; i < n; ++i) {
        const Node entry = list.at(i);
        if (entry.size() != 2) entry.fail("expected a [key, value] pair");
        entries.emplace_back(entry.at(0), entry.at(1));
    }
    return entries;
}

int species_number(const Node& node) {
    const long long z = node.integer("an atomic number");
    if (z < 1 || z > 1000) node.fail("atomic number out of range: " + std::to_string(z));
    return static_cast<int>(z);
}

std::pair<int, int> species_pair(const Node& node) {
    if (node.size() != 2) node.fail("expected a species pair [a, b]");
    const std::pair<int, int> key{species_number(node.at(0)), species_number(node.at(1))};
    if (key.first > key.second) node.fail("species pair must be ordered a <= b");
    return key;
}

// "nested list" of dump_obj's ["npy", list] arrays, 1-D here.
Node npy_vector(const Node& node) {
    if (node.size() != 2 || !node.at(0).raw().is_string() || node.at(0).string() != "npy")
        node.fail("expected [\"npy\", [...]]");
    return node.at(1);
}

void read_numbers(const Node& list, double* out) {
    json& array = list.raw();
    for (std::size_t i = 0; i < array.size(); ++i) {
        const json& x = array[i];
        if (!x.is_number()) list.at(i).fail("expected a number, got " + excerpt(x.dump()));
        out[i] = x.get<double>();
        if (!std::isfinite(out[i])) list.at(i).fail("non-finite number");
    }
}

// Every key of an object must be one gapd reads (and checks) or one that cannot change the numbers; anything else
// is refused by name, so that a model using a hyper gapd does not implement is never evaluated as if it did not
// (docs/model_format.md, "librascal hypers").
void check_known_keys(const Node& object, std::initializer_list<const char*> known) {
    if (!object.raw().is_object()) object.fail("expected an object");
    for (const auto& item : object.raw().items()) {
        bool found = false;
        for (const char* k : known) found = found || item.key() == k;
        if (!found) {
            std::string value = item.value().dump();
            if (value.size() > 60) value = value.substr(0, 60) + "...";
            object[item.key().c_str()].fail("librascal hyper not supported by gapd (value " + value + ")");
        }
    }
}

// Hypers that must have one value for gapd's numbers to be librascal's.
void check_representation_options(const Node& cpp) {
    check_known_keys(cpp, {"max_radial", "max_angular", "soap_type", "normalize", "gaussian_density",
                           "cutoff_function", "radial_contribution", "compute_gradients",
                           "expansion_by_species_method", "global_species", "inversion_symmetry",
                           "coefficient_subselection"});
    if (cpp.has("compute_gradients")) cpp["compute_gradients"].boolean();  // whether librascal kept gradients
    if (cpp.has("expansion_by_species_method")) cpp["expansion_by_species_method"].expect("environment wise");
    if (cpp.has("global_species") && !(cpp["global_species"].raw().is_array() && cpp["global_species"].raw().empty()))
        cpp["global_species"].fail("must be empty: gapd implements the 'environment wise' expansion only (got " +
                                   cpp["global_species"].raw().dump() + ")");
    if (cpp.has("inversion_symmetry") && !cpp["inversion_symmetry"].boolean())
        cpp["inversion_symmetry"].fail("false is not supported (a power spectrum is inversion symmetric)");
    check_known_keys(cpp["gaussian_density"], {"type", "gaussian_sigma"});
    check_known_keys(cpp["cutoff_function"], {"type", "cutoff", "smooth_width", "rate", "scale", "exponent"});
    check_known_keys(cpp["radial_contribution"], {"type", "optimization"});
    const Node optimization = cpp["radial_contribution"]["optimization"];
    if (optimization.has("Spline")) check_known_keys(optimization["Spline"], {"accuracy"});
}

// The Python-side copy of the hypers (what SphericalInvariants(...) was called with): the keys that change the
// features must have the values gapd implements here too; its coefficient_subselection must be the C++ one.
void check_python_hypers(const Node& init, const Node& cpp) {
    check_known_keys(init, {"compute_gradients", "cutoff_function_parameters", "cutoff_function_type",
                            "cutoff_smooth_width", "expansion_by_species_method", "gaussian_sigma_constant",
                            "gaussian_sigma_type", "global_species", "interaction_cutoff", "inversion_symmetry",
                            "max_angular", "max_radial", "normalize", "optimization", "radial_basis", "soap_type",
                            "coefficient_subselection"});
    if (init.has("coefficient_subselection") && !init["coefficient_subselection"].raw().is_null()) {
        const bool same = cpp.has("coefficient_subselection") &&
                          cpp["coefficient_subselection"].raw() == init["coefficient_subselection"].raw();
        if (!same) init["coefficient_subselection"].fail("differs from the C++ hypers' coefficient_subselection");
    }
    if (init.has("expansion_by_species_method")) init["expansion_by_species_method"].expect("environment wise");
    if (init.has("global_species") && !(init["global_species"].raw().is_array() && init["global_species"].raw().empty()))
        init["global_species"].fail("must be empty: gapd implements the 'environment wise' expansion only (got " +
                                    init["global_species"].raw().dump() + ")");
}

// librascal's coefficient_subselection: entry k is the power-spectrum component p^{a_k b_k}_{n1_k n2_k l_k}
// (librascal's Full layout, a <= b); the features are these components in this order, normalized over them.
struct Subselection {
    std::vector<int> a, b, n1, n2, l;
    bool operator==(const Subselection& o) const { return a == o.a && b == o.b && n1 == o.n1 && n2 == o.n2 && l == o.l; }
};

// Empty for an absent or null coefficient_subselection. Every malformed entry is an error naming the key.
Subselection read_subselection(const Node& cpp, int nmax, int lmax) {
    Subselection sel;
    if (!cpp.has("coefficient_subselection") || cpp["coefficient_subselection"].raw().is_null()) return sel;
    const Node node = cpp["coefficient_subselection"];
    check_known_keys(node, {"a", "b", "n1", "n2", "l"});
    auto read_list = [&](const char* key, long long lo, long long hi, const char* what, std::vector<int>& out) {
        const Node list = node[key];
        for (std::size_t i = 0; i < list.size(); ++i) {
            const long long v = list.at(i).integer(what);
            if (v < lo || v > hi)
                list.at(i).fail(std::to_string(v) + " outside " + std::to_string(lo) + ".." + std::to_string(hi));
            out.push_back(static_cast<int>(v));
        }
    };
    read_list("a", 1, 1000, "an atomic number", sel.a);
    read_list("b", 1, 1000, "an atomic number", sel.b);
    read_list("n1", 0, nmax - 1, "a radial index", sel.n1);
    read_list("n2", 0, nmax - 1, "a radial index", sel.n2);
    read_list("l", 0, lmax, "an angular index", sel.l);
    if (sel.a.empty()) node["a"].fail("empty selection");
    for (const char* key : {"b", "n1", "n2", "l"})
        if (node[key].size() != sel.a.size())
            node[key].fail("has " + std::to_string(node[key].size()) + " entries, 'a' has " + std::to_string(sel.a.size()));
    for (std::size_t k = 0; k < sel.a.size(); ++k)
        if (sel.a[k] > sel.b[k]) node["a"].at(k).fail("species pairs must be ordered a <= b");
    return sel;
}

SoapHypers read_hypers(const Node& representation, Subselection* subselection = nullptr) {
    representation["class_name"].expect("SphericalInvariants");
    const Node cpp = representation["data"]["cpp_representation"];
    cpp["soap_type"].expect("PowerSpectrum");
    check_representation_options(cpp);
    if (representation.has("init_params")) check_python_hypers(representation["init_params"], cpp);
    SoapHypers h;
    const long long nmax = cpp["max_radial"].integer();
    const long long lmax = cpp["max_angular"].integer();
    if (nmax < 1 || nmax > 100) cpp["max_radial"].fail("must be in 1..100, got " + std::to_string(nmax));
    if (lmax < 0 || lmax > 100) cpp["max_angular"].fail("must be in 0..100, got " + std::to_string(lmax));
    h.max_radial = static_cast<int>(nmax);
    h.max_angular = static_cast<int>(lmax);
    h.normalize = cpp["normalize"].boolean();

    const Node density = cpp["gaussian_density"];
    density["type"].expect("Constant");
    h.gaussian_sigma = density["gaussian_sigma"]["value"].number();
    if (!(h.gaussian_sigma > 0)) density["gaussian_sigma"]["value"].fail("must be positive");

    const Node cutoff = cpp["cutoff_function"];
    const std::string kind = cutoff["type"].string();
    h.cutoff.cutoff = cutoff["cutoff"]["value"].number();
    h.cutoff.smooth_width = cutoff["smooth_width"]["value"].number();
    if (!(h.cutoff.cutoff > 0)) cutoff["cutoff"]["value"].fail("must be positive");
    if (!(h.cutoff.smooth_width >= 0 && h.cutoff.smooth_width <= h.cutoff.cutoff))
        cutoff["smooth_width"]["value"].fail("must be in [0, cutoff]");
    if (kind == "ShiftedCosine") {
        h.cutoff.kind = CutoffKind::ShiftedCosine;
    } else if (kind == "RadialScaling") {
        h.cutoff.kind = CutoffKind::RadialScaling;
        h.cutoff.rate = cutoff["rate"]["value"].number();
        h.cutoff.scale = cutoff["scale"]["value"].number();
        h.cutoff.exponent = cutoff["exponent"]["value"].number();
        if (!(h.cutoff.scale > 0)) cutoff["scale"]["value"].fail("must be positive");
    } else {
        cutoff["type"].fail("expected \"ShiftedCosine\" or \"RadialScaling\", got \"" + kind + "\"");
    }

    const Node radial = cpp["radial_contribution"];
    radial["type"].expect("GTO");
    const Node optimization = radial["optimization"];
    if (!optimization.raw().is_object()) optimization.fail("expected an object");
    for (const auto& entry : optimization.raw().items())
        if (entry.key() != "Spline") optimization.fail("unsupported optimization " + quote_excerpt(entry.key()));
    if (optimization.has("Spline")) {
        h.librascal_spline_accuracy = optimization["Spline"]["accuracy"].number();
        if (!(h.librascal_spline_accuracy > 0)) optimization["Spline"]["accuracy"].fail("must be positive");
    }
    const Subselection sel = read_subselection(cpp, h.max_radial, h.max_angular);
    if (subselection != nullptr) *subselection = sel;
    return h;
}

// Upper bound on the dense sparse-point matrices: physical memory (a model that cannot fit is a clear error,
// not an out-of-memory kill). Fuzzing builds use 256 MiB, below libFuzzer's memory limit.
double max_sparse_point_bytes() {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    return 256.0 * (1 << 20);
#else
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) return 1e18;
    return static_cast<double>(pages) * static_cast<double>(page_size);
#endif
}

// librascal's selected entries in gapd's terms. Entry k equals c_k f_j(k), f the compressed features of
// models/descriptors/power_spectrum.hpp (c_k = 1/sqrt2 for one copy of an a = b off-diagonal pair, else 1):
// so x . t = sum_j f_j (sum_{k->j} c_k t_k) / ||x||, with ||x||^2 = sum_j (sum_{k->j} c_k^2) f_j^2. Feature j
// gets scale W_j = sqrt(sum_{k->j} c_k^2) and a sparse point T_j = sum_{k->j} c_k t_k / W_j: the same dot products
// and norms for any selection, repeated entries included.
class SubselectionMap {
public:
    // key_offset: where each species pair's block starts in the Full layout.
    SubselectionMap(const SoapHypers& h, const Subselection& sel,
                    const std::map<std::pair<int, int>, Eigen::Index>& key_offset)
        : full_size_(power_spectrum_size(h)) {
        const PowerSpectrum compressed(h, PowerSpectrumLayout::Compressed);
        const int N = h.max_radial, L = h.max_angular + 1;
        std::vector<double> unit(static_cast<std::size_t>(full_size_), 0.0);
        std::vector<double> image(static_cast<std::size_t>(compressed.size()));
        std::map<int, int> halves;  // j -> sum c_k^2 in units of 1/2 (c_k^2 is 1/2 or 1), exact
        for (std::size_t k = 0; k < sel.a.size(); ++k) {
            const Eigen::Index full_index =
                key_offset.at({sel.a[k], sel.b[k]}) + (sel.n1[k] * N + sel.n2[k]) * L + sel.l[k];
            unit[static_cast<std::size_t>(full_index)] = 1.0;
            compressed.from_full_layout(unit.data(), image.data());
            unit[static_cast<std::size_t>(full_index)] = 0.0;
            const auto j = std::find_if(image.begin(), image.end(), [](double v) { return v != 0.0; });
            entry_index_.push_back(static_cast<int>(j - image.begin()));
            entry_factor_.push_back(*j);
            halves[entry_index_.back()] += *j == 1.0 ? 2 : 1;
        }
        for (const auto& [j, h2] : halves) {
            position_[j] = static_cast<int>(selection_.size());
            selection_.push_back(j);
            scales_.push_back(h2 == 2 ? 1.0 : std::sqrt(0.5 * h2));
        }
        // All 1 (no lone off-diagonal copy, no repeats): a plain selection, readable without feature_scales.
        if (std::all_of(scales_.begin(), scales_.end(), [](double w) { return w == 1.0; })) scales_.clear();
        selected_ = std::make_unique<PowerSpectrum>(h, selection_, scales_);
    }

    const std::vector<int>& selection() const { return selection_; }
    const std::vector<double>& scales() const { return scales_; }

    // librascal's sparse points (rows in its selection order) -> Full-layout rows of gapd's selected model.
    RowMatrix full_points(const RowMatrix& librascal) const {
        RowMatrix full(librascal.rows(), full_size_);
        std::vector<double> t(selection_.size());
        for (Eigen::Index m = 0; m < librascal.rows(); ++m) {
            std::fill(t.begin(), t.end(), 0.0);
            for (std::size_t k = 0; k < entry_index_.size(); ++k)
                t[static_cast<std::size_t>(position_.at(entry_index_[k]))] +=
                    entry_factor_[k] * librascal(m, static_cast<Eigen::Index>(k));
            if (!scales_.empty())
                for (std::size_t q = 0; q < t.size(); ++q) t[q] /= scales_[q];
            selected_->to_full_layout(t.data(), full.row(m).data());
        }
        return full;
    }

private:
    int full_size_;
    std::vector<int> entry_index_;      // j(k)
    std::vector<double> entry_factor_;  // c_k
    std::map<int, int> position_;       // j -> its place in selection_
    std::vector<int> selection_;        // sorted distinct j
    std::vector<double> scales_;        // W_j
    std::unique_ptr<PowerSpectrum> selected_;
};

struct Block {
    int species;                // central species
    std::pair<int, int> key;    // species pair
    Node indices;               // within-species sparse indices
};

}  // namespace

GapModel read_librascal_model(const std::string& path) {
    json doc = parse_file(path);
    const Node root(doc, "", path);
    root["class_name"].expect("KRR");
    const Node params = root["init_params"];
    check_known_keys(params, {"X_train", "description", "kernel", "self_contributions", "units", "weights"});
    if (params.has("units")) {
        const Node units = params["units"];
        check_known_keys(units, {"energy", "length"});
        if (units.has("energy")) units["energy"].expect("eV");
        if (units.has("length")) units["length"].expect("AA");
    }

    GapModel model;
    const Node kernel = params["kernel"];
    kernel["class_name"].expect("Kernel");
    const Node kernel_params = kernel["init_params"];
    check_known_keys(kernel_params, {"name", "kernel_type", "target_type", "zeta", "representation"});
    kernel_params["name"].expect("GAP");
    kernel_params["kernel_type"].expect("Sparse");
    kernel_params["target_type"].expect("Structure");
    const long long zeta = kernel_params["zeta"].integer("a positive integer");
    if (zeta < 1 || zeta > 1000) kernel_params["zeta"].fail("must be a positive integer, got " + std::to_string(zeta));
    model.zeta = static_cast<int>(zeta);
    // Predictions use the kernel's representation (the X_train copy may differ in compute_gradients).
    Subselection subselection;
    model.hypers = read_hypers(kernel_params["representation"], &subselection);
    const SoapHypers& h = model.hypers;

    if (!params["self_contributions"].raw().is_object()) params["self_contributions"].fail("expected an object");
    for (const auto& item : params["self_contributions"].raw().items()) {
        int z = 0;
        std::istringstream key(item.key());
        if (!(key >> z) || !key.eof() || z < 1)
            params["self_contributions"].fail("key " + quote_excerpt(item.key()) + " must be an atomic number");
        const Node value = params["self_contributions"][item.key().c_str()];
        model.self_contributions[z] = value.number();
    }
    if (params.has("description") && params["description"].raw().is_string())
        model.description = "librascal model " + path + ": " + params["description"].string();

    const Node x_train = params["X_train"];
    x_train["class_name"].expect("SparsePoints");
    // The sparse points were computed with X_train's copy of the representation: it must agree with the kernel's
    // on everything but compute_gradients.
    if (x_train.has("init_params") && x_train["init_params"].has("representation")) {
        const Node xr = x_train["init_params"]["representation"];
        Subselection xsel;
        const SoapHypers xh = read_hypers(xr, &xsel);
        if (!(xsel == subselection))
            xr.fail("coefficient_subselection differs from the kernel's (the sparse points and the kernel would not "
                    "match)");
        if (!(xh.max_radial == h.max_radial && xh.max_angular == h.max_angular && xh.normalize == h.normalize &&
              xh.gaussian_sigma == h.gaussian_sigma && xh.cutoff.kind == h.cutoff.kind &&
              xh.cutoff.cutoff == h.cutoff.cutoff && xh.cutoff.smooth_width == h.cutoff.smooth_width &&
              xh.cutoff.rate == h.cutoff.rate && xh.cutoff.scale == h.cutoff.scale &&
              xh.cutoff.exponent == h.cutoff.exponent))
            xr.fail("differs from the kernel's representation (the sparse points and the kernel would not match)");
    }
    const Node sparse = x_train["data"]["sparse_points"];
    const long long inner_size = sparse["inner_size"].integer();
    // With a coefficient_subselection librascal stores all selected entries under one key [0, 0].
    const bool selected = !subselection.a.empty();
    const long long expected_inner =
        selected ? static_cast<long long>(subselection.a.size())
                 : static_cast<long long>(h.max_radial) * h.max_radial * (h.max_angular + 1);
    if (inner_size != expected_inner)
        sparse["inner_size"].fail("is " + std::to_string(inner_size) + " but " +
                                  (selected ? std::string("coefficient_subselection has ")
                                            : std::string("max_radial^2 (max_angular+1) = ")) +
                                  std::to_string(expected_inner));
    const std::pair<int, int> selected_key{0, 0};
    auto feature_key = [&](const Node& node) {
        if (!selected) return species_pair(node);
        if (node.size() != 2 || node.at(0).integer() != 0 || node.at(1).integer() != 0)
            node.fail("expected the key [0, 0] of a coefficient_subselection");
        return selected_key;
    };

    // Species: central species and every species named in a feature key.
    std::vector<int> centers;
    const Node center_list = sparse["center_species"];
    for (std::size_t i = 0; i < center_list.size(); ++i) centers.push_back(species_number(center_list.at(i)));
    if (!strictly_increasing(centers))
        center_list.fail("must be sorted and without repeats");
    std::set<int> species(centers.begin(), centers.end());
    species.insert(subselection.a.begin(), subselection.a.end());
    species.insert(subselection.b.begin(), subselection.b.end());
    const Node key_list = sparse["keys"];
    for (std::size_t i = 0; i < key_list.size(); ++i) {
        const auto key = feature_key(key_list.at(i));
        if (selected) continue;
        species.insert(key.first);
        species.insert(key.second);
    }
    std::vector<Block> blocks;
    for (const auto& [sp_node, per_key] : map_entries(sparse["indices"])) {
        const int sp = species_number(sp_node);
        if (!std::binary_search(centers.begin(), centers.end(), sp)) sp_node.fail("not in center_species");
        for (const auto& [key_node, indices] : map_entries(per_key)) {
            const auto key = feature_key(key_node);
            if (!selected) {
                species.insert(key.first);
                species.insert(key.second);
            }
            for (const Block& b : blocks)
                if (b.species == sp && b.key == key) key_node.fail("repeated key");
            blocks.push_back({sp, key, indices});
        }
    }
    model.hypers.species.assign(species.begin(), species.end());
    // power_spectrum_size() is an int: refuse hypers whose feature count would overflow it.
    const long long nspecies = static_cast<long long>(h.species.size());
    const long long block_size = static_cast<long long>(h.max_radial) * h.max_radial * (h.max_angular + 1);
    const long long features = nspecies * (nspecies + 1) / 2 * block_size;
    if (features > std::numeric_limits<int>::max())
        sparse["keys"].fail(std::to_string(nspecies) + " species with max_radial^2 (max_angular+1) = " +
                            std::to_string(block_size) + " give " + std::to_string(features) +
                            " features per environment, more than gapd supports");

    // Feature layout: key blocks (a <= b, lexicographic) of nmax^2 (lmax+1) concatenated. With a subselection the
    // file holds the selected entries in librascal's order (read_offset), mapped onto gapd's selection once read.
    std::map<std::pair<int, int>, Eigen::Index> key_offset;
    for (std::size_t a = 0; a < h.species.size(); ++a)
        for (std::size_t b = a; b < h.species.size(); ++b)
            key_offset[{h.species[a], h.species[b]}] = static_cast<Eigen::Index>(key_offset.size()) * block_size;
    const std::map<std::pair<int, int>, Eigen::Index> read_offset =
        selected ? std::map<std::pair<int, int>, Eigen::Index>{{selected_key, 0}} : key_offset;
    const Eigen::Index dim = power_spectrum_size(h);
    const Eigen::Index read_width = selected ? static_cast<Eigen::Index>(inner_size) : dim;

    std::map<int, long long> counts;
    for (const auto& [sp_node, count_node] : map_entries(sparse["counters"])) {
        const long long count = count_node.integer("a count");
        if (count < 0) count_node.fail("negative count");
        counts[static_cast<int>(sp_node.integer("an atomic number"))] = count;
    }
    // Checked before the sparse points are allocated from the counts: one weight per sparse point, and
    // the dense points must fit in memory.
    const Node weights = npy_vector(params["weights"]);
    long long total_points = 0;
    for (int sp : centers) {
        const auto it = counts.find(sp);
        if (it == counts.end()) sparse["counters"].fail("no count for central species " + std::to_string(sp));
        if (it->second > static_cast<long long>(weights.size()))
            sparse["counters"].fail("count " + std::to_string(it->second) + " for species " + std::to_string(sp) +
                                    " exceeds the " + std::to_string(weights.size()) + " weights");
        total_points += it->second;
    }
    if (weights.size() != static_cast<std::size_t>(total_points))
        weights.fail("has " + std::to_string(weights.size()) + " weights for " + std::to_string(total_points) +
                     " sparse points");
    const double point_bytes = 8.0 * static_cast<double>(total_points) * static_cast<double>(dim);
    if (point_bytes > max_sparse_point_bytes())
        sparse["counters"].fail(std::to_string(total_points) + " sparse points x " + std::to_string(dim) +
                                " features need " + std::to_string(point_bytes / (1 << 30)) +
                                " GiB, more than this machine's memory");
    for (int sp : centers) {
        const auto it = counts.find(sp);
        SparseSet set;
        set.species = sp;
        set.points = RowMatrix::Zero(static_cast<Eigen::Index>(it->second), read_width);
        model.sparse.push_back(std::move(set));
    }
    auto set_of = [&](int sp) -> SparseSet& {
        for (SparseSet& s : model.sparse)
            if (s.species == sp) return s;
        throw std::logic_error("central species checked above");
    };

    // values[sp][key] holds one inner_size block per entry of indices[sp][key], in that order.
    std::vector<bool> values_seen(blocks.size(), false);
    for (const auto& [sp_node, per_key] : map_entries(sparse["values"])) {
        const int sp = species_number(sp_node);
        for (const auto& [key_node, values] : map_entries(per_key)) {
            const auto key = feature_key(key_node);
            std::size_t b = 0;
            while (b < blocks.size() && !(blocks[b].species == sp && blocks[b].key == key)) ++b;
            if (b == blocks.size()) key_node.fail("has values but no indices");
            if (values_seen[b]) key_node.fail("repeated key");
            values_seen[b] = true;
            const Node& indices = blocks[b].indices;
            const std::size_t nblocks = indices.size();
            if (values.size() != nblocks * static_cast<std::size_t>(inner_size))
                values.fail("has " + std::to_string(values.size()) + " numbers, expected " + std::to_string(nblocks) +
                            " sparse points x inner_size " + std::to_string(inner_size));
            SparseSet& set = set_of(sp);
            std::vector<bool> filled(static_cast<std::size_t>(set.points.rows()), false);
            std::vector<double> block(static_cast<std::size_t>(inner_size));
            for (std::size_t k = 0; k < nblocks; ++k) {
                const long long index = indices.at(k).integer("a sparse point index");
                if (index < 0 || index >= set.points.rows())
                    indices.at(k).fail("index " + std::to_string(index) + " outside 0.." +
                                       std::to_string(set.points.rows() - 1) + " (counters)");
                if (filled[static_cast<std::size_t>(index)]) indices.at(k).fail("repeated index");
                filled[static_cast<std::size_t>(index)] = true;
            }
            json& numbers = values.raw();
            for (std::size_t k = 0; k < nblocks; ++k) {
                const auto index = static_cast<Eigen::Index>(indices.at(k).raw().get<long long>());
                double* row = set.points.row(index).data() + read_offset.at(key);
                for (long long j = 0; j < inner_size; ++j) {
                    const json& x = numbers[k * static_cast<std::size_t>(inner_size) + static_cast<std::size_t>(j)];
                    if (!x.is_number()) values.fail("expected numbers, got " + excerpt(x.dump()));
                    row[j] = x.get<double>();
                    if (!std::isfinite(row[j])) values.fail("non-finite number");
                }
            }
            numbers = nullptr;  // release this block's JSON early: keeps the peak memory down
        }
    }
    for (std::size_t b = 0; b < blocks.size(); ++b)
        if (!values_seen[b] && blocks[b].indices.size() > 0) blocks[b].indices.fail("has indices but no values");
    if (selected) {
        const SubselectionMap map(h, subselection, key_offset);
        model.selected_features = map.selection();
        model.selected_feature_scales = map.scales();
        for (SparseSet& s : model.sparse) s.points = map.full_points(s.points);
    }

    std::vector<double> w(weights.size());
    read_numbers(weights, w.data());
    Eigen::Index offset = 0;
    for (SparseSet& s : model.sparse) {
        s.weights = Eigen::Map<const Eigen::VectorXd>(w.data() + offset, s.points.rows());
        offset += s.points.rows();
    }
    try {
        validate(model);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    return model;
}

}  // namespace gapd
