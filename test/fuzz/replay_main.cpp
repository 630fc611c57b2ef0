// Runs a fuzz target's LLVMFuzzerTestOneInput once on every file of its
// corpus, without libFuzzer: how scripts/test replays the committed corpora
// (seeds, what fuzzing found, the inputs that once crashed) under the gcc
// sanitizer build, so a change that breaks an invariant a fuzzer checks
// fails the suite. The clang build (-Dfuzz=true, scripts/fuzz) links
// libFuzzer's own main instead.
//
//   fuzz_X_replay DIR_OR_FILE...
//
// A broken invariant aborts (FUZZ_CHECK), as under libFuzzer; the file being
// run is printed first, so the abort names it.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Defined by the targets that need one-time set-up (the test EAL).
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) inputs.push_back(e.path());
      }
    } else if (std::filesystem::is_regular_file(p)) {
      inputs.push_back(p);
    } else {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs in %s: an empty corpus tests nothing\n", argv[1]);
    return 2;
  }
  std::sort(inputs.begin(), inputs.end());  // the same order every run
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  for (const std::filesystem::path& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    const std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) {
      std::fprintf(stderr, "cannot read %s\n", p.c_str());
      return 2;
    }
    std::fprintf(stderr, "%s\n", p.c_str());
    // libFuzzer hands a target its own copy, never a null pointer.
    std::vector<uint8_t> copy = data;
    copy.reserve(1);
    LLVMFuzzerTestOneInput(copy.data(), copy.size());
  }
  std::printf("%zu inputs, no failure\n", inputs.size());
  return 0;
}
