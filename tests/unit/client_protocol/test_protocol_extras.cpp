// Extras strings: what i-PI 3.3 can digest and what would hang it.
#include "client_protocol/extras_check.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using gapd::check_extras_for_ipi;

TEST_CASE("protocol extras: accepted like i-PI 3.3's parse_extra accepts them") {
    for (const std::string extras : {"", " ", " \n", "{}", "{\"dipole\": [1, 2, 3]}",
                                     "{\"dipole\": [NaN, Infinity, -Infinity]}",  // Python's json reads these
                                     "{\"a\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
                                     "{\"s\": \"NaN [1] \\\" raw\"}",
                                     "nada",                   // plain text: i-PI keeps it under "raw"
                                     "1 2", "{\"a\": 1} x", "[1, 2"}) {
        CHECK_NOTHROW(check_extras_for_ipi(extras));
    }
}

TEST_CASE("protocol extras: refused where i-PI 3.3 would hang") {
    // JSON that is not an object, the reserved key, invalid UTF-8 (decoded before any try in i-PI).
    for (const std::string extras : {"[1, 2]", "3", " -1.5e3 ", "\"text\"", "null", "true", "NaN", "-Infinity",
                                     "[NaN]", "{\"raw\": 1}", " {\"dipole\": [1], \"raw\": \"x\"}",
                                     "\xff", "{\"a\": \"\xc3\"}", "\xed\xa0\x80" /* surrogate */,
                                     "\xc0\xaf" /* overlong */, "\xf4\x90\x80\x80" /* > U+10FFFF */}) {
        CHECK_THROWS_AS(check_extras_for_ipi(extras), std::runtime_error);
    }
}
