#include "backend/aoti_package.h"

#include <stdlib.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <simdjson.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ptserve {
namespace {

namespace fs = std::filesystem;

// Folder of the packaged models: "data/aotinductor/<model>/<file>", under an
// optional top-level folder.
const std::regex& EntryPattern() {
  static const std::regex* pattern =
      new std::regex(R"(^(?:[^/]+/)?data/aotinductor/([^/]+)/([^/]+)$)");
  return *pattern;
}

struct Entry {
  zip_uint64_t index;
  zip_uint64_t size;
};

struct ModelEntries {
  std::optional<Entry> so, cpp, metadata;
};

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

absl::Status ExtractEntry(zip_t* zip, const Entry& entry, const std::string& to,
                          const std::string& package_path, uint64_t& budget) {
  if (entry.size > budget) {
    return absl::InvalidArgumentError(absl::StrCat(
        package_path, ": the package unpacks to more than the limit of ", budget, " bytes"));
  }
  std::unique_ptr<zip_file_t, ZipFileCloser> in(zip_fopen_index(zip, entry.index, 0));
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(package_path, ": cannot read ", zip_get_name(zip, entry.index, 0), ": ",
                     zip_strerror(zip)));
  }
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!out) return absl::FailedPreconditionError(absl::StrCat("cannot write ", to));
  std::vector<char> buffer(1 << 20);
  uint64_t written = 0;
  while (true) {
    const zip_int64_t n = zip_fread(in.get(), buffer.data(), buffer.size());
    if (n < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          package_path, ": corrupt or truncated entry ", zip_get_name(zip, entry.index, 0), ": ",
          zip_file_strerror(in.get())));
    }
    if (n == 0) break;
    written += static_cast<uint64_t>(n);
    if (written > entry.size) {
      return absl::InvalidArgumentError(absl::StrCat(
          package_path, ": entry ", zip_get_name(zip, entry.index, 0), " is longer than declared"));
    }
    out.write(buffer.data(), n);
    if (!out) return absl::FailedPreconditionError(absl::StrCat("cannot write ", to, " (disk full?)"));
  }
  if (written != entry.size) {
    return absl::InvalidArgumentError(absl::StrCat(package_path, ": entry ",
                                                   zip_get_name(zip, entry.index, 0),
                                                   " is shorter than declared"));
  }
  budget -= written;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseFlatJsonObject(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  std::map<std::string, std::string> out;
  for (auto [key, value] : root.get_object()) {
    std::string_view s;
    if (value.get_string().get(s) == simdjson::SUCCESS) {
      out[std::string(key)] = std::string(s);
    } else {
      out[std::string(key)] = simdjson::minify(value);
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AotiPackage>> AotiPackage::Extract(const std::string& package_path,
                                                                  const Options& options) {
  int error = 0;
  std::unique_ptr<zip_t, ZipCloser> zip(zip_open(package_path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!zip) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    std::string why = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    if (error == ZIP_ER_NOENT || error == ZIP_ER_OPEN) {
      return absl::NotFoundError(absl::StrCat("cannot open ", package_path, ": ", why));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        package_path, " is not an AOTInductor package (a .pt2 zip archive): ", why));
  }
  std::map<std::string, ModelEntries> models;
  const zip_int64_t count = zip_get_num_entries(zip.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(zip.get(), i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
        !(st.valid & ZIP_STAT_SIZE)) {
      continue;
    }
    std::smatch m;
    const std::string name = st.name;
    if (!std::regex_match(name, m, EntryPattern())) continue;
    const std::string model = m[1], file = m[2];
    if (model == "." || model == "..") continue;
    Entry entry{static_cast<zip_uint64_t>(i), st.size};
    ModelEntries& e = models[model];
    if (absl::EndsWith(file, "_metadata.json")) {
      e.metadata = entry;
    } else if (absl::EndsWith(file, ".so")) {
      e.so = entry;
    } else if (absl::EndsWith(file, ".cpp")) {
      e.cpp = entry;
    }
  }
  std::erase_if(models, [](const auto& kv) { return !kv.second.so && !kv.second.cpp; });
  if (models.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        package_path, " holds no AOTInductor model (no data/aotinductor/<model>/*.so): is it a "
        "package made by torch._inductor.aoti_compile_and_package?"));
  }
  std::string model_name = options.model_name;
  if (model_name.empty()) {
    if (models.size() > 1) {
      std::vector<std::string> names;
      for (const auto& [n, e] : models) names.push_back(n);
      return absl::InvalidArgumentError(absl::StrCat(package_path, " holds several models (",
                                                     absl::StrJoin(names, ", "),
                                                     "): choose one with parameter AOTI_MODEL_NAME"));
    }
    model_name = models.begin()->first;
  }
  auto it = models.find(model_name);
  if (it == models.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(package_path, " has no model named '", model_name, "'"));
  }
  const ModelEntries& entries = it->second;
  if (!entries.so) {
    return absl::InvalidArgumentError(absl::StrCat(
        package_path, ": model '", model_name, "' is packaged as C++ only (package_cpp_only); "
        "ptserve loads packages with a compiled .so: package it without package_cpp_only"));
  }

  std::string root = options.directory;
  if (root.empty()) {
    const char* tmp = getenv("TMPDIR");
    root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = (fs::path(root) / "ptserve-aoti-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot make a folder in '", root, "' to unpack ", package_path, " (", strerror(errno),
        "): set --aoti-extract-dir to a writable folder"));
  }
  std::unique_ptr<AotiPackage> package(new AotiPackage());
  package->directory_ = pattern;
  package->model_name_ = model_name;
  uint64_t budget = options.max_bytes;
  package->so_path_ = (fs::path(pattern) / "model.so").string();
  if (absl::Status s = ExtractEntry(zip.get(), *entries.so, package->so_path_, package_path, budget);
      !s.ok()) {
    return s;
  }
  if (entries.metadata) {
    if (entries.metadata->size > (1 << 20)) {
      return absl::InvalidArgumentError(absl::StrCat(package_path, ": metadata over 1 MB"));
    }
    // Read in memory: only its parsed form is kept.
    std::string json(entries.metadata->size, '\0');
    std::unique_ptr<zip_file_t, ZipFileCloser> in(zip_fopen_index(zip.get(), entries.metadata->index, 0));
    if (!in || zip_fread(in.get(), json.data(), json.size()) !=
                   static_cast<zip_int64_t>(json.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat(package_path, ": corrupt or truncated metadata entry"));
    }
    auto parsed = ParseFlatJsonObject(json);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(package_path, ": metadata is not a JSON object"));
    }
    package->metadata_ = std::move(*parsed);
  }
  if (entries.cpp && entries.cpp->size <= (uint64_t{64} << 20)) {
    package->cpp_path_ = (fs::path(pattern) / "model.cpp").string();
    if (absl::Status s = ExtractEntry(zip.get(), *entries.cpp, package->cpp_path_, package_path, budget);
        !s.ok()) {
      return s;
    }
    std::ifstream in(package->cpp_path_);
    const std::string cpp(std::istreambuf_iterator<char>(in), {});
    package->fixed_parallel_threads_ = FixedOpenMpThreads(cpp);
    // "// Compile cmd\n// g++ ... -I<torch>/include ... -D_GLIBCXX_USE_CXX11_ABI=1 ..." at the end.
    const std::string tail = cpp.substr(cpp.size() > 16384 ? cpp.size() - 16384 : 0);
    std::smatch m;
    if (std::regex_search(tail, m, std::regex(R"(_GLIBCXX_USE_CXX11_ABI=([01]))"))) {
      package->cxx11_abi_ = m[1] == "1" ? 1 : 0;
    }
    if (std::regex_search(tail, m, std::regex(R"(-I(\S*/torch/include)\s)"))) {
      package->torch_include_dir_ = m[1];
    }
  }
  return package;
}

std::optional<int> FixedOpenMpThreads(const std::string& cpp_source) {
  static constexpr std::string_view kNeedle = "num_threads(";
  std::optional<int> largest;
  for (size_t at = cpp_source.find(kNeedle); at != std::string::npos;
       at = cpp_source.find(kNeedle, at + 1)) {
    size_t i = at + kNeedle.size();
    int n = 0;
    size_t digits = 0;
    for (; i < cpp_source.size() && digits < 7 && cpp_source[i] >= '0' && cpp_source[i] <= '9';
         ++i, ++digits) {
      n = n * 10 + (cpp_source[i] - '0');
    }
    if (digits == 0 || i >= cpp_source.size() || cpp_source[i] != ')') continue;
    if (!largest || n > *largest) largest = n;
  }
  return largest;
}

AotiPackage::~AotiPackage() {
  std::error_code ec;
  if (!directory_.empty()) fs::remove_all(directory_, ec);
}

std::string AotiPackage::device() const {
  auto it = metadata_.find("AOTI_DEVICE_KEY");
  return it == metadata_.end() ? "cpu" : it->second;
}

}  // namespace ptserve
