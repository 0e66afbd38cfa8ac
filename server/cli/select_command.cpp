// gapd select: the candidate structures (e.g. MD frames) least like a model's training data, by farthest-point
// sampling on the model's own SOAP features (docs/active_learning.md).

#include "models/core/openmp.hpp"
#include "models/descriptors/species_map.hpp"
#include "models/fit/structure_selection.hpp"
#include "models/formats/extxyz.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/common_options.hpp"
#include "server/cli/yaml_config.hpp"
#include "server/cli/option_checks.hpp"
#include "server/cli/model_loading.hpp"
#include "server/cli/pair_limit_option.hpp"
#include "models/core/same_file.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>

namespace gapd {

namespace {

struct SelectOptions {
    std::vector<std::string> candidates, reference;
    std::string model, output, radial = "spline", measure = "atoms", group_key = "config_type";
    int count = 20, threads = 0, per_group = 0;
    bool clusters = false;
};

struct LoadedSet {
    std::vector<ExtxyzFrame> frames;
    std::vector<StructureFeatures> features;
};

std::string frame_name(const ExtxyzFrame& f, const std::string& path, std::size_t index) {
    const auto id = f.info.find("structure_id");
    return id != f.info.end() ? id->second : path + " frame " + std::to_string(index);
}

LoadedSet load(const std::vector<std::string>& paths, const GapCalculator& calc, const char* what, bool clusters) {
    LoadedSet out;
    const SpeciesMap species(calc.model().hypers.species);
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& path : paths) {
        std::vector<ExtxyzFrame> frames = read_extxyz(path);
        if (!clusters) require_periodicity_given(frames, path);
        for (std::size_t k = 0; k < frames.size(); ++k) {
            const Structure& s = frames[k].structure;
            StructureFeatures f;
            try {
                f.species = species.indices(s.numbers);
            } catch (const std::invalid_argument& e) {
                throw std::invalid_argument(path + " frame " + std::to_string(k) + ": " + e.what());
            }
            f.atoms = calc.kernel_features(s);
            out.features.push_back(std::move(f));
            out.frames.push_back(std::move(frames[k]));
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cerr << "gapd: " << what << ": " << out.frames.size() << " structures featurized (" << path << ", "
                  << static_cast<int>(seconds) << " s so far)\n";
    }
    return out;
}

void report_progress(int done, int total) {
    if (done == total || done % 10 == 0) std::cerr << "gapd: picked " << done << " of " << total << "\n";
}

int run_select(const SelectOptions& o) {
    std::vector<std::string> inputs = o.candidates;
    inputs.insert(inputs.end(), o.reference.begin(), o.reference.end());
    inputs.push_back(o.model);
    refuse_output_over_input(o.output, inputs);
    set_thread_count(o.threads);
    const NoveltyMeasure measure = parse_novelty_measure(o.measure);
    std::unique_ptr<GapCalculator> calc = load_calculator(o.model, parse_radial_mode(o.radial));
    const LoadedSet reference = load(o.reference, *calc, "reference", o.clusters);
    LoadedSet candidates = load(o.candidates, *calc, "candidates", o.clusters);
    SelectionOptions options;
    options.count = o.count;
    options.measure = measure;
    options.species_count = static_cast<int>(calc->model().hypers.species.size());
    options.progress = report_progress;
    if (o.per_group > 0) {
        // Group labels: the distinct values of the info key, numbered in order of appearance.
        std::map<std::string, int> labels;
        for (std::size_t k = 0; k < candidates.frames.size(); ++k) {
            const auto it = candidates.frames[k].info.find(o.group_key);
            if (it == candidates.frames[k].info.end())
                throw std::runtime_error("candidate " + std::to_string(k) + " has no info key '" + o.group_key +
                                         "' (--group-key)");
            options.group.push_back(labels.emplace(it->second, static_cast<int>(labels.size())).first->second);
        }
        options.per_group = o.per_group;
    }
    const std::vector<SelectionStep> picks = select_novel_structures(reference.features, candidates.features, options);

    std::vector<ExtxyzFrame> out;
    std::printf("# rank  distance  structure (of %zu candidates, %zu reference structures, measure %s)\n",
                candidates.frames.size(), reference.frames.size(), o.measure.c_str());
    for (std::size_t r = 0; r < picks.size(); ++r) {
        ExtxyzFrame f = candidates.frames[picks[r].candidate];
        std::printf("%6zu  %8.5f  %s\n", r + 1, picks[r].distance,
                    frame_name(f, "candidate", static_cast<std::size_t>(picks[r].candidate)).c_str());
        f.info["select_rank"] = std::to_string(r + 1);
        f.info["select_distance"] = format_info_numbers(&picks[r].distance, 1);
        out.push_back(std::move(f));
    }
    if (picks.size() < static_cast<std::size_t>(o.count))
        std::cerr << "gapd: only " << picks.size() << " candidates differ from the reference and earlier picks\n";
    write_extxyz(o.output, out);
    std::cerr << "gapd: wrote " << out.size() << " structures to " << o.output << "\n";
    return 0;
}

}  // namespace

void add_select_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<SelectOptions>();
    CLI::App* cmd = app.add_subcommand(
        "select",
        "Pick the candidate structures (e.g. MD frames) least like the reference set (e.g. the training data) by "
        "farthest-point sampling on the model's SOAP features, for the next round of DFT labels. Prints rank, "
        "distance and structure id; writes the picks (all their keys kept, plus select_rank and select_distance) "
        "to an extxyz file.");
    cmd->add_option("candidates,--candidates", o->candidates, "extxyz file(s) of candidate structures")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("-m,--model", o->model, "Model whose SOAP features measure similarity (gapd native or librascal)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("-r,--reference", o->reference,
                    "extxyz file(s) already known, e.g. the training and test sets (default: none; the first "
                    "candidate then starts the sampling)")
        ->check(CLI::ExistingFile);
    cmd->add_option("-n,--count", o->count, "Structures to pick (default 20)")->check(positive_integer());
    cmd->add_option("-o,--output", o->output, "extxyz file for the picks (written atomically)")->required();
    cmd->add_option("--measure", o->measure,
                    "'atoms' (default): a candidate's distance is that of its least familiar atomic environment "
                    "(max over its atoms of the distance to the nearest same-species environment of the set); "
                    "'structure': distance between per-species mean features")
        ->check(CLI::IsMember({"atoms", "structure"}));
    cmd->add_option("--per-group", o->per_group,
                    "At most this many picks per value of --group-key (e.g. per MD temperature), so the hottest run "
                    "does not take every pick (default 0: no quota)")
        ->check(non_negative_integer());
    cmd->add_option("--group-key", o->group_key, "Info key whose values define the groups of --per-group "
                                                 "(default config_type)");
    cmd->add_option("--threads", o->threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)")
        ->check(non_negative_integer());
    cmd->add_option("--radial", o->radial, radial_mode_help());
    add_clusters_flag(cmd, o->clusters);
    add_config_option(cmd);
    add_max_pairs_option(cmd);
    cmd->callback([o, &exit_code]() { exit_code = run_select(*o); });
}

}  // namespace gapd
