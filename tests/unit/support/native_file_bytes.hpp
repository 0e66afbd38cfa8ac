#pragma once
// Byte-level editing of native model files (docs/model_format.md) in the unit tests: little-endian fields of the
// 24-byte preamble, the JSON header, and a file with its header replaced (valid CRC, arrays moved as the writer
// would lay them out). Shared by test_native_model_file.cpp and test_bad_files.cpp.

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace gapd::testing {

// The n-byte little-endian unsigned integer at `at`.
inline std::uint64_t le(const std::string& bytes, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[at + k])) << (8 * k);
    return v;
}

inline void put_le(std::string& bytes, std::size_t at, std::uint64_t v, int n) {
    for (int k = 0; k < n; ++k) bytes[at + k] = static_cast<char>((v >> (8 * k)) & 0xff);
}

// The JSON header (its size is the 8-byte field at offset 12; the text starts at 24).
inline nlohmann::json header_of(const std::string& bytes) {
    return nlohmann::json::parse(bytes.substr(24, le(bytes, 12, 8)));
}

// The file with its JSON header replaced and a valid header CRC. A longer header moves the arrays by a
// multiple of 64 bytes (and their offsets with them), as the writer would have laid them out.
inline std::string with_header(const std::string& bytes, const nlohmann::json& header) {
    const std::size_t data_start = 24 + le(bytes, 12, 8);
    std::uint64_t shift = 0;
    std::string text;
    while (true) {
        nlohmann::json moved = header;
        for (auto& a : moved["arrays"]) a["offset"] = a["offset"].get<std::uint64_t>() + shift;
        text = moved.dump();
        const std::uint64_t needed = (24 + text.size() + 1 + 63) / 64 * 64;
        if (needed <= data_start + shift) break;
        shift = needed - data_start;
    }
    text.resize(data_start + shift - 24, ' ');
    std::string out = bytes.substr(0, 24) + text + bytes.substr(data_start);
    put_le(out, 12, text.size(), 8);
    put_le(out, 20, crc32_z(0, reinterpret_cast<const Bytef*>(text.data()), text.size()), 4);
    return out;
}

}  // namespace gapd::testing
