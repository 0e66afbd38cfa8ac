// Fuzz target: the librascal dump_obj JSON reader (models/formats/librascal_model_reader.cpp), plain or gzip, on
// arbitrary file contents. Errors must be std::runtime_error naming the file; an accepted model must be
// writable as a native file and read back unchanged.

#include "fuzz_common.hpp"
#include "model_compare.hpp"
#include "models/formats/librascal_model_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const gapd::fuzz::ScratchFile input("librascal_in.json");
    static const gapd::fuzz::ScratchFile output("librascal_out.gapd");
    const std::string& path = input.write(data, size);
    gapd::GapModel model;
    try {
        model = gapd::read_librascal_model(path);
    } catch (const std::runtime_error& e) {
        gapd::fuzz::check_error_names_file(e, path);
        return 0;
    }
    gapd::fuzz::check_native_round_trip(model, output.path());
    return 0;
}
