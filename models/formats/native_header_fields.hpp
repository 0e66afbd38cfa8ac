#pragma once
// Typed access to the fields of a native model file's JSON header (models/formats/native_file_framing.hpp),
// each failure one std::runtime_error line naming the file and the field: "<path>: header field 'soap.max_radial':
// expected an integer, got 2.5" or "<path>: missing header field 'potential.zeta'".

#include "models/core/text_excerpt.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace gapd {

class HeaderFields {
public:
    using json = nlohmann::json;

    explicit HeaderFields(std::string path) : path_(std::move(path)) {}
    const std::string& path() const { return path_; }

    [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
        throw std::runtime_error(path_ + ": header field '" + field + "': " + problem);
    }
    // object[key]; `parent` is the header path of `object` ("" for the top level).
    const json& member(const json& object, const std::string& parent, const char* key) const {
        const std::string field = parent.empty() ? key : parent + "." + key;
        if (!object.is_object()) fail(parent, "expected an object");
        const auto it = object.find(key);
        if (it == object.end()) throw std::runtime_error(path_ + ": missing header field '" + field + "'");
        return *it;
    }
    double number(const json& v, const std::string& field) const {
        if (!v.is_number()) fail(field, "expected a number, got " + excerpt(v.dump()));
        const double x = v.get<double>();
        if (!std::isfinite(x)) fail(field, "non-finite number");
        return x;
    }
    std::int64_t integer(const json& v, const std::string& field) const {
        if (!v.is_number_integer()) fail(field, "expected an integer, got " + excerpt(v.dump()));
        return v.get<std::int64_t>();
    }
    std::uint64_t unsigned_integer(const json& v, const std::string& field) const {
        if (!v.is_number_unsigned()) fail(field, "expected a non-negative integer, got " + excerpt(v.dump()));
        return v.get<std::uint64_t>();
    }
    std::string string(const json& v, const std::string& field) const {
        if (!v.is_string()) fail(field, "expected a string, got " + excerpt(v.dump()));
        return v.get<std::string>();
    }
    bool boolean(const json& v, const std::string& field) const {
        if (!v.is_boolean()) fail(field, "expected true or false, got " + excerpt(v.dump()));
        return v.get<bool>();
    }
    // A string field that must equal `wanted`.
    void expect(const json& v, const std::string& field, const std::string& wanted) const {
        const std::string got = string(v, field);
        if (got != wanted) fail(field, "expected \"" + wanted + "\", got \"" + excerpt(got) + "\" (not supported by this gapd)");
    }

private:
    std::string path_;
};

}  // namespace gapd
