#pragma once
// Validators for numeric options whose messages say what is wanted (CLI11's NonNegativeNumber prints its range
// as a 309-digit number when given text).

#include <CLI/CLI.hpp>

#include <charconv>
#include <string>

namespace gapd {

// The whole string as an integer / a number (out-of-range values fail), a leading '+' allowed: what a command line or a YAML
// config (server/cli/yaml_config.cpp) may hold.
inline bool parse_integer(const std::string& s, long long& x) {
    const char* b = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    const auto [p, ec] = std::from_chars(b, s.data() + s.size(), x);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}
inline bool parse_number(const std::string& s, double& x) {
    const char* b = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    const auto [p, ec] = std::from_chars(b, s.data() + s.size(), x);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

inline CLI::Validator non_negative_integer() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            long long x = 0;
            if (!parse_integer(s, x) || x < 0) return "expects an integer >= 0, got '" + s + "'";
            return {};
        },
        "INT>=0", "non_negative_integer");
}

inline CLI::Validator positive_integer() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            long long x = 0;
            if (!parse_integer(s, x) || x < 1) return "expects an integer >= 1, got '" + s + "'";
            return {};
        },
        "INT>=1", "positive_integer");
}

inline CLI::Validator non_negative_number() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            double x = 0;
            if (!parse_number(s, x) || !(x >= 0)) return "expects a number >= 0, got '" + s + "'";
            return {};
        },
        "NUMBER>=0", "non_negative_number");
}

}  // namespace gapd
