#include "backend/shared_object_info.h"

#include <elf.h>
#include <gnu/libc-version.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ptserve {
namespace {

// Shared objects are read whole up to this size (the model .so of a large
// model embeds its weights, but the dynamic tables sit near the start and
// are found through the section headers, read separately).
constexpr size_t kMaxTable = 64 << 20;

std::string MachineName(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "aarch64";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390x";
    case EM_RISCV: return "riscv64";
    case EM_386: return "i386";
    default: return absl::StrCat("machine ", machine);
  }
}

std::vector<int> ParseVersion(absl::string_view text) {
  std::vector<int> v;
  for (absl::string_view part : absl::StrSplit(text, '.')) {
    int n;
    if (!absl::SimpleAtoi(part, &n)) break;
    v.push_back(n);
  }
  return v;
}

class FileReader {
 public:
  explicit FileReader(const std::string& path) : in_(path, std::ios::binary) {
    if (in_) {
      in_.seekg(0, std::ios::end);
      size_ = static_cast<uint64_t>(in_.tellg());
    }
  }
  bool ok() const { return static_cast<bool>(in_); }
  uint64_t size() const { return size_; }
  // Reads [offset, offset + n) or fails when it lies outside the file.
  bool Read(uint64_t offset, uint64_t n, void* out) {
    if (offset > size_ || n > size_ - offset) return false;
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
    return static_cast<bool>(in_);
  }
  bool ReadBytes(uint64_t offset, uint64_t n, std::string& out) {
    if (n > kMaxTable) return false;
    out.resize(n);
    return Read(offset, n, out.data());
  }

 private:
  std::ifstream in_;
  uint64_t size_ = 0;
};

// NUL-terminated string at `offset` in `table`; empty when out of range.
std::string StringAt(const std::string& table, uint64_t offset) {
  if (offset >= table.size()) return "";
  const char* start = table.data() + offset;
  return std::string(start, strnlen(start, table.size() - offset));
}

}  // namespace

std::optional<std::vector<int>> SharedObjectInfo::NewestVersion(const std::string& prefix) const {
  std::optional<std::vector<int>> newest;
  for (const std::string& v : version_needs) {
    if (v.rfind(prefix, 0) != 0) continue;
    std::vector<int> parsed = ParseVersion(absl::string_view(v).substr(prefix.size()));
    if (parsed.empty()) continue;
    if (!newest || *newest < parsed) newest = parsed;
  }
  return newest;
}

bool SharedObjectInfo::Needs(const std::string& prefix) const {
  return std::any_of(needed.begin(), needed.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

std::string SharedObjectInfo::Describe() const {
  std::vector<std::string> newest;
  for (const char* prefix : {"GLIBC_", "GLIBCXX_", "CXXABI_", "GOMP_"}) {
    if (auto v = NewestVersion(prefix)) newest.push_back(absl::StrCat(prefix, absl::StrJoin(*v, ".")));
  }
  return absl::StrCat(machine, "; links ", needed.empty() ? "nothing" : absl::StrJoin(needed, ", "),
                      newest.empty() ? "" : absl::StrCat("; needs ", absl::StrJoin(newest, ", ")));
}

absl::StatusOr<SharedObjectInfo> ReadSharedObjectInfo(const std::string& path) {
  FileReader file(path);
  if (!file.ok()) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a usable shared object: ", why));
  };
  Elf64_Ehdr eh;
  if (!file.Read(0, sizeof(eh), &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    return invalid("no ELF header");
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    return invalid("not a 64-bit little-endian ELF file");
  }
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 65000) {
    return invalid("no section headers");
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  if (!file.Read(eh.e_shoff, sizeof(Elf64_Shdr) * eh.e_shnum, sections.data())) {
    return invalid("truncated section headers");
  }
  SharedObjectInfo info;
  info.machine = MachineName(eh.e_machine);
  std::set<std::string> versions;
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_type != SHT_DYNAMIC && s.sh_type != SHT_GNU_verneed) continue;
    if (s.sh_link >= sections.size()) return invalid("bad string table link");
    std::string strings, table;
    const Elf64_Shdr& str = sections[s.sh_link];
    if (!file.ReadBytes(str.sh_offset, str.sh_size, strings) ||
        !file.ReadBytes(s.sh_offset, s.sh_size, table)) {
      return invalid("truncated dynamic tables");
    }
    if (s.sh_type == SHT_DYNAMIC) {
      for (size_t at = 0; at + sizeof(Elf64_Dyn) <= table.size(); at += sizeof(Elf64_Dyn)) {
        Elf64_Dyn d;
        std::memcpy(&d, table.data() + at, sizeof(d));
        if (d.d_tag == DT_NULL) break;
        if (d.d_tag == DT_NEEDED) info.needed.push_back(StringAt(strings, d.d_un.d_val));
      }
    } else {
      // Elf64_Verneed entries, each followed by its Elf64_Vernaux list.
      uint64_t at = 0;
      for (int guard = 0; guard < 4096 && at + sizeof(Elf64_Verneed) <= table.size(); ++guard) {
        Elf64_Verneed vn;
        std::memcpy(&vn, table.data() + at, sizeof(vn));
        uint64_t aux = at + vn.vn_aux;
        for (int i = 0; i < vn.vn_cnt && aux + sizeof(Elf64_Vernaux) <= table.size(); ++i) {
          Elf64_Vernaux va;
          std::memcpy(&va, table.data() + aux, sizeof(va));
          versions.insert(StringAt(strings, va.vna_name));
          if (va.vna_next == 0) break;
          aux += va.vna_next;
        }
        if (vn.vn_next == 0) break;
        at += vn.vn_next;
      }
    }
  }
  versions.erase("");
  info.version_needs.assign(versions.begin(), versions.end());
  return info;
}

HostLibraries CurrentHostLibraries() {
  HostLibraries host;
#if defined(__x86_64__)
  host.machine = "x86-64";
#elif defined(__aarch64__)
  host.machine = "aarch64";
#else
  host.machine = "unknown";
#endif
  host.glibc = ParseVersion(gnu_get_libc_version());
  return host;
}

std::optional<std::string> Incompatibility(const SharedObjectInfo& so, const HostLibraries& host) {
  if (so.machine != host.machine) {
    return absl::StrCat("it is built for ", so.machine, " and this server runs on ", host.machine);
  }
  if (auto glibc = so.NewestVersion("GLIBC_"); glibc && !host.glibc.empty() && host.glibc < *glibc) {
    return absl::StrCat("it needs glibc ", absl::StrJoin(*glibc, "."), " and this system has glibc ",
                        absl::StrJoin(host.glibc, "."), " (it was built on a newer distribution)");
  }
  return std::nullopt;
}

}  // namespace ptserve
