// Hostile and damaged input files: every reader must fail with ONE line naming the file (and the field),
// as std::runtime_error, never another exception type, a crash or a huge allocation; nothing may be written
// half-way. Complements test_native_model_file.cpp / test_librascal_model_reader.cpp / test_extxyz.cpp (exact
// messages of single cases) with sweeps (every truncation point, flipped bytes), the size checks added for
// hostile files, the template/frame mismatches seen through the i-PI driver, YAML garbage and atomic writes.
// See docs/reliability.md.

#include "client_protocol/driver_session.hpp"
#include "client_protocol/frame_conversion.hpp"
#include "models/core/atomic_file_write.hpp"
#include "models/formats/extxyz.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/model_file.hpp"
#include "server/serve/model_force_engine.hpp"
#include "server/serve/template_structure.hpp"
#include "server/cli/yaml_config.hpp"
#include "native_file_bytes.hpp"
#include "test_files.hpp"
#include "test_protocol_helpers.hpp"

#include <CLI/CLI.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <typeinfo>

using namespace gapd;
using namespace gapd::testing;

namespace {

const std::string kSmallModel = std::string(GAPD_TEST_DATA_DIR) + "/librascal/model_small_zeta2_exact.json";
const std::string kStructures = std::string(GAPD_TEST_DATA_DIR) + "/librascal/structures.extxyz";

bool same_model(const GapModel& a, const GapModel& b) {
    if (a.zeta != b.zeta || a.hypers.species != b.hypers.species || a.sparse.size() != b.sparse.size()) return false;
    for (std::size_t s = 0; s < a.sparse.size(); ++s)
        if (a.sparse[s].points != b.sparse[s].points || a.sparse[s].weights != b.sparse[s].weights) return false;
    return true;
}

}  // namespace

// `gapd serve --config FILE` expanded against a command with the serve options' kinds (text, integer, flag):
// this file is also built without the server commands (the sanitizer build), so it cannot use the real one
// (tests/unit/cli/test_cli_config.cpp does).
static std::vector<std::string> expand_serve_config(const std::vector<std::string>& args) {
    static std::string model, template_path, address;
    static int threads = 0;
    static bool unix_socket = false;
    CLI::App app;
    CLI::App* serve = app.add_subcommand("serve");
    serve->add_option("-m,--model", model);
    serve->add_option("-t,--template", template_path);
    serve->add_option("-a,--address", address);
    serve->add_option("--threads", threads);
    serve->add_flag("-u,--unix", unix_socket);
    return gapd::expand_yaml_config(app, args);
}

TEST_CASE("bad files: native model truncated at every point, bytes flipped everywhere") {
    TempDir dir("gapd_bad_files");
    const GapModel model = read_librascal_model(kSmallModel);
    write_native_model(dir.file("good.gapd"), model);
    const std::string good = read_bytes(dir.file("good.gapd"));
    const std::string path = dir.file("bad.gapd");
    // Every truncation point in the prefix and header, then every 1000th byte through the arrays.
    std::size_t checked = 0;
    for (std::size_t n = 0; n < good.size(); n += (n < 2048 ? 1 : 1000)) {
        write_bytes(path, good.substr(0, n));
        const std::string e = failure_of([&] { read_native_model(path); });
        check_one_line_naming(e, path);
        ++checked;
    }
    CHECK(checked > 2000);
    // Flipped bytes: an error naming the file, or (padding between arrays is not checksummed) the same model.
    std::size_t errors = 0, harmless = 0;
    for (std::size_t at = 0; at < good.size(); at += 97) {
        std::string bytes = good;
        bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
        write_bytes(path, bytes);
        GapModel read;
        const std::string e = failure_of([&] { read = read_native_model(path); });
        if (e.empty()) {
            CHECK(same_model(read, model));
            ++harmless;
        } else {
            check_one_line_naming(e, path);
            ++errors;
        }
    }
    MESSAGE("native: " << checked << " truncations, " << errors << " flipped bytes refused, " << harmless
                       << " harmless (padding)");
    CHECK(errors > 100 * harmless);
}

TEST_CASE("bad files: native model with hostile sizes fails before allocating") {
    TempDir dir("gapd_bad_files");
    write_native_model(dir.file("good.gapd"), read_librascal_model(kSmallModel));
    const std::string good = read_bytes(dir.file("good.gapd"));
    const auto header = nlohmann::json::parse(good.substr(24, le(good, 12, 8)));
    const std::string path = dir.file("bad.gapd");
    auto error_for = [&](const nlohmann::json& h) {
        write_bytes(path, with_header(good, h));
        return failure_of([&] { read_native_model(path); });
    };
    nlohmann::json h = header;
    h["arrays"][1]["shape"] = {1000000000000ULL};  // weights_8: 8 TB announced, 160 bytes present
    CHECK(error_for(h) == path + ": header field 'arrays[1] ('weights_8').nbytes': 160 does not match its shape "
                                 "(1000000000000 float64 values)");
    h = header;
    h["arrays"][1]["shape"] = {2305843009213693952ULL};  // 2^61: 8 x that overflows 64 bits
    CHECK(error_for(h) == path + ": header field 'arrays[1] ('weights_8').shape': too large");
    h = header;
    h["arrays"][0]["shape"] = {20, 1000000};  // points much larger than nbytes
    CHECK(error_for(h).find("'arrays[0] ('sparse_points_8').nbytes'") != std::string::npos);
    h = header;
    std::vector<int> species;
    for (int z = 1; z <= 200; ++z) species.push_back(z);
    h["soap"]["species"] = species;
    h["soap"]["max_radial"] = 100;
    h["soap"]["max_angular"] = 100;
    CHECK(error_for(h) == path + ": header field 'soap': 200 species with max_radial 100 and max_angular 100 give "
                                 "20301000000 features per environment, more than gapd supports");
}

TEST_CASE("bad files: librascal JSON truncated at many points, plain and gzip") {
    TempDir dir("gapd_bad_files");
    const std::string text = read_bytes(kSmallModel);
    const std::string packed = gzip(text);
    const std::string path = dir.file("bad.json");
    for (const std::string* bytes : {&text, &packed}) {
        const std::size_t step = bytes->size() / 60 + 1;
        for (std::size_t n = 0; n < bytes->size(); n += step) {
            write_bytes(path, bytes->substr(0, n));
            check_one_line_naming(failure_of([&] { read_librascal_model(path); }), path);
        }
    }
    // A file that is not JSON at all, and binary garbage.
    write_bytes(path, "# not a model\nmodel: x\n");
    check_one_line_naming(failure_of([&] { read_librascal_model(path); }), path);
    std::string garbage(4096, '\0');
    for (std::size_t k = 0; k < garbage.size(); ++k) garbage[k] = static_cast<char>((k * 2654435761u) >> 13);
    write_bytes(path, garbage);
    check_one_line_naming(failure_of([&] { read_librascal_model(path); }), path);
    // read_model_file picks the librascal reader for anything without the native magic.
    check_one_line_naming(failure_of([&] { read_model_file(path); }), path);
}

TEST_CASE("bad files: librascal JSON with missing keys, wrong types, inconsistent hyperparameters") {
    TempDir dir("gapd_bad_files");
    const std::string text = read_bytes(kSmallModel);
    const std::string path = dir.file("bad.json");
    auto error_after = [&](auto&& edit) {
        auto doc = nlohmann::json::parse(text);
        edit(doc);
        write_bytes(path, doc.dump());
        return failure_of([&] { read_librascal_model(path); });
    };
    const std::string sp = "init_params.X_train.data.sparse_points";
    // Sizes that would have been allocated from the file before the checks.
    CHECK(error_after([](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["counters"][8][1] = 1e12; }) ==
          path + ": field '" + sp + ".counters': count 1000000000000 for species 8 exceeds the 60 weights");
    CHECK(error_after([](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["counters"][8][1] = 21; }) ==
          path + ": field 'init_params.weights[1]': has 60 weights for 61 sparse points");
    // Wrong types and missing keys anywhere: one line, the file name first, the field named.
    const std::vector<std::pair<std::string, std::function<void(nlohmann::json&)>>> edits = {
        {"self_contributions", [](auto& d) { d["init_params"]["self_contributions"] = nlohmann::json::array(); }},
        {"self_contributions", [](auto& d) { d["init_params"]["self_contributions"]["8"] = "x"; }},
        {"center_species", [](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["center_species"] = 8; }},
        {"center_species",
         [](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["center_species"] = {56, 8}; }},
        {"keys", [](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["keys"][0] = {22, 8}; }},
        {"indices", [](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["indices"][0][1][0][1][0] = 99; }},
        {"indices", [](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["indices"][0][1][0][1][1] = 0; }},
        {"values", [](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["values"][0][1][0][1][3] = "x"; }},
        {"weights", [](auto& d) { d["init_params"]["weights"][1][7] = nullptr; }},
        {"weights", [](auto& d) { d["init_params"]["weights"] = {"npy"}; }},
        {"max_angular",
         [](auto& d) {
             d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]["max_angular"] = -1;
         }},
        {"gaussian_sigma",
         [](auto& d) {
             d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]
              ["gaussian_density"]["gaussian_sigma"]["value"] = 0;
         }},
        {"smooth_width",
         [](auto& d) {
             d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]
              ["cutoff_function"]["smooth_width"]["value"] = 9.0;
         }},
        {"init_params", [](auto& d) { d.erase("init_params"); }},
        {"kernel", [](auto& d) { d["init_params"]["kernel"] = 3; }},
    };
    for (const auto& entry : edits) {
        const std::string& field = entry.first;  // not a structured binding: INFO captures it (clang refuses)
        const std::string e = error_after(entry.second);
        INFO("edit of " << field << ": " << e);
        check_one_line_naming(e, path);
        CHECK(e.find(field) != std::string::npos);
    }
}

TEST_CASE("bad files: extxyz and template garbage") {
    TempDir dir("gapd_bad_files");
    const std::string path = dir.file("bad.extxyz");
    const std::vector<std::string> bad = {
        "",  // template: empty
        "2\nProperties=species:S:1:pos:R:3:x:R:333333333333333333\nO 0 0 0 1\nO 1 1 1 1\n",  // absurd column count
        "1\nProperties=species:S:1:pos:R:3:x:R:1000000\nO 0 0 0 1\n",  // more columns than the file holds
        "3\nLattice=\"4 0 0 0 4 0 0 0 4\"\nO 0 0 0\n",  // truncated
        "1\nLattice=\"4 0 0 0 4 0 0 0 nan\"\nO 0 0 0\n",
        "1\n\nO 0 0 inf\n",
        "1\n\n\xff\xfe 0 0 0\n",  // not UTF-8, not an element
        "-5\n\n",
        "99999999999999999999\n\n",
    };
    for (std::size_t k = 0; k < bad.size(); ++k) {
        write_bytes(path, bad[k]);
        const std::string e = failure_of([&] { read_template_numbers(path); });
        const std::string e2 = failure_of([&] {
            if (read_extxyz(path).empty()) throw std::runtime_error(path + ": no frames");
        });
        INFO("case " << k);
        if (k != 1 && k != 2 && k != 4 && k != 5) check_one_line_naming(e, path);  // the template reads species only
        check_one_line_naming(e2, path);
    }
}

TEST_CASE("bad files: YAML config garbage names the file") {
    TempDir dir("gapd_bad_files");
    const std::string path = dir.file("serve.yaml");
    const std::vector<std::string> bad = {
        "model: [a, b]\n",          // non-scalar value
        "? [a, b]\n: c\n",         // non-scalar key
        "- model\n- m.gapd\n",      // not a mapping
        "a: b\n\tc: d\n",           // tab indentation
        "model: m\nmodel\n",        // syntax
        "model: {x: 1}\n",
        "model:\n",                 // null value
        "{{{{{{{{{{{{{{{{{{{{{{{{{{",
    };
    for (const auto& text : bad) {
        write_bytes(path, text);
        const std::string e = failure_of([&] { expand_serve_config({"gapd", "serve", "--config", path}); });
        INFO("config text: " << text);
        check_one_line_naming(e, path);
    }
    // yaml-cpp tolerates these (an unterminated quote at the end of the file, invalid UTF-8 or UTF-16 bytes):
    // either an error naming the file or well-formed options whose values the command line checks next.
    const std::vector<std::string> tolerated = {
        "model: 'unterminated\n",
        std::string("\xff\xfe\x00m\x00o\x00d\x00", 8),
        "model: m\xff\xfe.gapd\nthreads: \xc3\x28\n",
        "\x01\x02\x03: \x04\n",
    };
    for (const auto& text : tolerated) {
        write_bytes(path, text);
        std::vector<std::string> args;
        const std::string e = failure_of([&] { args = expand_serve_config({"gapd", "serve", "--config", path}); });
        INFO("config text: " << text << " -> " << e);
        if (!e.empty()) {
            check_one_line_naming(e, path);
            continue;
        }
        REQUIRE(args.size() >= 2);
        for (std::size_t k = 2; k < args.size(); ++k) CHECK(args[k].rfind("--", 0) == 0);
    }
    write_bytes(path, "");
    CHECK(expand_serve_config({"gapd", "serve", "--config", path}) == std::vector<std::string>{"gapd", "serve"});
    CHECK(failure_of([&] { expand_serve_config({"gapd", "serve", "--config", dir.file("missing.yaml")}); })
              .find(dir.file("missing.yaml")) != std::string::npos);
    // Deep nesting must not overflow the stack (yaml-cpp limits it).
    write_bytes(path, "a: " + std::string(100000, '[') + "\n");
    check_one_line_naming(failure_of([&] { expand_serve_config({"gapd", "serve", "--config", path}); }), path);
}

TEST_CASE("bad files: a template that does not match the model or the frames, through the driver") {
    const GapModel model = read_librascal_model(kSmallModel);  // species O, Ti, Ba
    const GapCalculator calculator(model, RadialMode::Spline);
    const std::vector<ExtxyzFrame> frames = read_extxyz(kStructures);
    const Structure& s = frames[0].structure;

    SUBCASE("species the model does not know") {
        std::vector<int> numbers = s.numbers;
        numbers[2] = 1;  // H
        const std::string e = failure_of([&] { calculator.check_species(numbers, "init.xyz"); });
        CHECK(e == "WRONG TYPE St16invalid_argument: init.xyz: atom 2 has atomic number 1, which the model does not "
                   "know (model species: 8 22 56)");
    }

    // gapd serve's engine over a socketpair, i-PI played by the test: the frame has one atom more than the
    // template, or the template's species are not the model's.
    auto serve_one = [&](std::vector<int> numbers, const wire::WireStructure& frame) {
        ModelForceEngine engine(calculator, std::move(numbers));
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        Transport transport(fds[0], "test i-PI");
        auto peer = test::FakeIpi::on_socket(fds[1]);
        clear_stop_requests();
        std::ostringstream log;
        DriverOptions options;
        options.log = &log;
        auto session = std::async(std::launch::async, [&] { return serve_connection(transport, engine, options); });
        REQUIRE(peer.handshake(0, " "));
        peer.send_fused({frame});
        const std::string how = peer.wait_close();
        peer.close_client();
        if (session.wait_for(std::chrono::seconds(10)) != std::future_status::ready) std::abort();
        std::string error;
        try {
            session.get();
        } catch (const std::exception& e) {
            error = e.what();
        }
        return std::make_pair(how, error);
    };
    Frame f;
    f.cell = s.cell;
    f.positions = s.positions;
    const wire::WireStructure frame = frame_to_wire(f);

    SUBCASE("template with fewer atoms than the frames") {
        std::vector<int> numbers(s.numbers.begin(), s.numbers.end() - 1);
        const auto [how, error] = serve_one(numbers, frame);
        CHECK(how == "eof");
        CHECK(error == "i-PI sent " + std::to_string(s.size()) + " atoms but the template has " +
                           std::to_string(s.size() - 1) + " (the atom count is fixed per run)");
    }
    SUBCASE("template with a species the model lacks") {
        std::vector<int> numbers = s.numbers;
        numbers[0] = 1;
        const auto [how, error] = serve_one(numbers, frame);
        CHECK(how == "eof");
        CHECK(error.rfind("force engine failed: ", 0) == 0);
        CHECK(error.find("atomic number 1, which the model does not know") != std::string::npos);
    }
    SUBCASE("matching template: served") {
        const auto [how, error] = serve_one(s.numbers, frame);
        CHECK(how == "data");  // the FORCEREADY reply
        CHECK(error == "");
    }
}

TEST_CASE("bad files: nothing half-written") {
    TempDir dir("gapd_bad_files");
    const std::string target = dir.file("out.dat");

    SUBCASE("a writer that fails leaves no file and no temporary") {
        CHECK(failure_of([&] {
                  write_file_atomically(target, [](std::ostream& out) {
                      out << std::string(1 << 20, 'x');
                      throw std::runtime_error("disk full (simulated)");
                  });
              }) == "disk full (simulated)");
        CHECK(dir.listing().empty());
    }
    SUBCASE("an existing file is left untouched by a failed write") {
        write_bytes(target, "old content");
        CHECK(!failure_of([&] {
                   write_file_atomically(target, [](std::ostream& out) {
                       out << "new";
                       throw std::runtime_error("interrupted");
                   });
               }).empty());
        CHECK(read_bytes(target) == "old content");
        CHECK(dir.listing() == std::vector<std::string>{"out.dat"});
    }
    SUBCASE("writing into a missing directory: clear error, nothing created") {
        const std::string e = failure_of([&] { write_native_model(dir.file("no/such/dir/m.gapd"), read_librascal_model(kSmallModel)); });
        CHECK(e.find("no/such/dir/m.gapd") != std::string::npos);
        CHECK(dir.listing().empty());
    }
    SUBCASE("an inconsistent model or unwritable frames are refused before anything is written") {
        GapModel broken = read_librascal_model(kSmallModel);
        broken.sparse[0].weights.resize(3);
        CHECK(failure_of([&] { write_native_model(target, broken); }).rfind("WRONG TYPE", 0) == 0);  // invalid_argument
        std::vector<ExtxyzFrame> frames = read_extxyz(kStructures);
        frames[1].structure.positions(0, 0) = std::nan("");
        CHECK(!failure_of([&] { write_extxyz(target, frames); }).empty());
        CHECK(dir.listing().empty());
    }
    SUBCASE("a read-only directory: clear error naming the file, no leftovers") {
        if (::geteuid() == 0) {
            MESSAGE("running as root: permissions are not enforced, skipped");
            return;
        }
        std::filesystem::create_directory(dir.file("ro"));
        std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
        const std::string e = failure_of([&] { write_extxyz(dir.file("ro/out.extxyz"), read_extxyz(kStructures)); });
        std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_all);
        CHECK(e.find("ro/out.extxyz") != std::string::npos);
        CHECK(std::filesystem::is_empty(dir.file("ro")));
    }
}
