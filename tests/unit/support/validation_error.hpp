#pragma once
// The message validate(model) throws, or "" if the model is valid: for tests that break one rule at a time.

#include <stdexcept>
#include <string>

namespace gapd::testing {

template <class Model>
std::string validation_error(const Model& model) {
    try {
        validate(model);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

}  // namespace gapd::testing
