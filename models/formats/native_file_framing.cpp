#include "models/formats/native_file_framing.hpp"

#include "models/core/atomic_file_write.hpp"
#include "models/core/regular_file.hpp"
#include "models/core/text_excerpt.hpp"
#include "models/formats/json_error_text.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

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

std::uint64_t byte_count(const std::vector<std::uint64_t>& shape) {
    std::uint64_t count = 8;
    for (const std::uint64_t n : shape) count *= n;
    return count;
}

}  // namespace

void write_native_file(const std::string& path, std::uint32_t version, json header,
                       const std::vector<NativeArray>& arrays) {
    std::vector<std::uint64_t> offsets(arrays.size()), sizes(arrays.size());
    std::vector<std::uint32_t> crcs(arrays.size());
    for (std::size_t k = 0; k < arrays.size(); ++k) {
        sizes[k] = byte_count(arrays[k].shape);
        crcs[k] = crc32_of(arrays[k].data, sizes[k]);
    }
    header["format"] = "gapd-model";
    header["writer"] = std::string("gapd ") + GAPD_VERSION;

    // Offsets are absolute and printed in the header, whose length depends on them: grow the space
    // reserved for the header until it fits (converges in a step or two).
    std::uint64_t data_start = align_up(kPrefixSize + 1024);
    std::string text;
    while (true) {
        std::uint64_t offset = data_start;
        json directory = json::array();
        for (std::size_t k = 0; k < arrays.size(); ++k) {
            offsets[k] = offset;
            offset = align_up(offset + sizes[k]);
            directory.push_back({{"name", arrays[k].name},
                                 {"dtype", "<f8"},
                                 {"shape", arrays[k].shape},
                                 {"offset", offsets[k]},
                                 {"nbytes", sizes[k]},
                                 {"crc32", crcs[k]}});
        }
        header["arrays"] = std::move(directory);
        // Indented to be readable with `head -c`; invalid UTF-8 in the description is replaced, not fatal.
        text = header.dump(1, ' ', false, json::error_handler_t::replace);
        const std::uint64_t needed = align_up(kPrefixSize + text.size() + 1);
        if (needed <= data_start) break;
        data_start = needed;
    }
    text.resize(data_start - kPrefixSize, ' ');  // JSON allows trailing whitespace
    text.back() = '\n';

    unsigned char prefix[kPrefixSize];
    std::memcpy(prefix, kMagic, 8);
    put_le(prefix + 8, version, 4);
    put_le(prefix + 12, text.size(), 8);
    put_le(prefix + 20, crc32_of(text.data(), text.size()), 4);

    write_file_atomically(path, [&](std::ostream& out) {
        out.write(reinterpret_cast<const char*>(prefix), kPrefixSize);
        out << text;
        std::uint64_t position = data_start;
        static const char zeros[kAlignment] = {};
        for (std::size_t k = 0; k < arrays.size(); ++k) {
            out.write(zeros, static_cast<std::streamsize>(offsets[k] - position));
            out.write(reinterpret_cast<const char*>(arrays[k].data), static_cast<std::streamsize>(sizes[k]));
            position = offsets[k] + sizes[k];
        }
    });
}

bool has_native_magic(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {};
    return in.read(magic, 8) && std::memcmp(magic, kMagic, 8) == 0;
}

NativeFileReader::NativeFileReader(const std::string& path, std::uint32_t max_version,
                                   const std::vector<std::string>& supported_features)
    : path_(path), in_((require_regular_file(path, "model file"), path), std::ios::binary), fields_(path) {
    if (!in_) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    in_.seekg(0, std::ios::end);
    size_ = static_cast<std::uint64_t>(in_.tellg());

    if (size_ < kPrefixSize)
        throw std::runtime_error(path + ": truncated: " + std::to_string(size_) +
                                 " bytes, shorter than the 24-byte prefix of a gapd model file");
    unsigned char prefix[kPrefixSize];
    read_bytes(0, prefix, kPrefixSize);
    if (std::memcmp(prefix, kMagic, 8) != 0)
        throw std::runtime_error(path + ": not a gapd native model file (the first 8 bytes are not GAPDMODL)");
    const auto version = static_cast<std::uint32_t>(get_le(prefix + 8, 4));
    if (version > max_version)
        throw std::runtime_error(path + ": model format version " + std::to_string(version) +
                                 " is newer than this gapd supports (version " + std::to_string(max_version) +
                                 "); use a newer gapd");
    if (version == 0) throw std::runtime_error(path + ": invalid model format version 0");
    const std::uint64_t header_size = get_le(prefix + 12, 8);
    if (header_size > size_ - kPrefixSize)
        throw std::runtime_error(path + ": truncated: the header needs " + std::to_string(header_size) +
                                 " bytes after the prefix, the file has " + std::to_string(size_ - kPrefixSize));
    std::string header_text(header_size, '\0');
    read_bytes(kPrefixSize, header_text.data(), header_size);
    if (crc32_of(header_text.data(), header_text.size()) != get_le(prefix + 20, 4))
        throw std::runtime_error(path + ": header checksum mismatch (file corrupted)");
    try {
        header_ = json::parse(header_text);
    } catch (const json::exception& e) {
        throw std::runtime_error(path + ": header is not valid JSON: " + json_error_text(e.what()));
    }
    const HeaderFields& r = fields_;
    if (!header_.is_object()) throw std::runtime_error(path + ": the header is not a JSON object");
    r.expect(r.member(header_, "", "format"), "format", "gapd-model");

    const json& required = r.member(header_, "", "required_features");
    if (!required.is_array()) r.fail("required_features", "expected an array");
    for (const json& name : required)
        if (!name.is_string() ||
            std::find(supported_features.begin(), supported_features.end(), name.get<std::string>()) ==
                supported_features.end())
            r.fail("required_features", "this gapd does not support " + excerpt(required.dump()) + "; use a newer gapd");

    // Array directory: every entry is checked against the file size, whether used or not.
    const json& arrays = r.member(header_, "", "arrays");
    if (!arrays.is_array()) r.fail("arrays", "expected an array");
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        const std::string field = "arrays[" + std::to_string(i) + "]";
        Entry a;
        const std::string name = r.string(r.member(arrays[i], field, "name"), field + ".name");
        const std::string where = field + " (" + quote_excerpt(name) + ")";
        a.dtype = r.string(r.member(arrays[i], field, "dtype"), where + ".dtype");
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
        if (a.dtype == "<f8" && a.nbytes != elements * 8)
            r.fail(where + ".nbytes", std::to_string(a.nbytes) + " does not match its shape (" +
                                          std::to_string(elements) + " float64 values)");
        if (a.offset % kAlignment != 0 || a.offset < kPrefixSize + header_size)
            r.fail(where + ".offset", "must be 64-byte aligned and after the header");
        if (a.nbytes > size_ || a.offset > size_ - a.nbytes)
            throw std::runtime_error(path + ": truncated: array " + quote_excerpt(name) + " ends at byte " +
                                     std::to_string(a.offset + a.nbytes) + ", the file has " +
                                     std::to_string(size_) + " bytes");
        if (directory_.count(name) != 0) r.fail(where + ".name", "repeated array name");
        directory_[name] = std::move(a);
    }
}

void NativeFileReader::read_bytes(std::uint64_t offset, void* out, std::uint64_t n) {
    in_.seekg(static_cast<std::streamoff>(offset));
    if (!in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n)))
        throw std::runtime_error(path_ + ": read error at byte " + std::to_string(offset));
}

const std::vector<std::uint64_t>* NativeFileReader::shape_of(const std::string& name) const {
    const auto it = directory_.find(name);
    return it == directory_.end() ? nullptr : &it->second.shape;
}

void NativeFileReader::load(const json& name_field, const std::string& field, const std::vector<std::uint64_t>& shape,
                            const std::function<double*()>& allocate) {
    const std::string name = fields_.string(name_field, field);
    const auto it = directory_.find(name);
    if (it == directory_.end()) fields_.fail(field, "names array " + quote_excerpt(name) + ", which is not in the directory");
    const Entry& a = it->second;
    const std::string what = path_ + ": array " + quote_excerpt(name) + ": ";
    if (a.dtype != "<f8") throw std::runtime_error(what + "dtype " + quote_excerpt(a.dtype) + " is not supported (expected '<f8')");
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
    read_bytes(a.offset, out, a.nbytes);
    if (crc32_of(out, a.nbytes) != a.crc) throw std::runtime_error(what + "checksum mismatch (file corrupted)");
    for (std::uint64_t k = 0; k < count; ++k)
        if (!std::isfinite(out[k])) throw std::runtime_error(what + "non-finite value at flat index " + std::to_string(k));
}

}  // namespace gapd
