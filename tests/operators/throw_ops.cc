// A library whose constructor throws, as libtorch's TORCH_LIBRARY does when
// its namespace is registered already. The exception propagates out of
// dlopen (leaving the dynamic loader's lock held), so it must never happen
// in the server itself.
#include <stdexcept>

namespace {

struct Thrower {
  Thrower() { throw std::runtime_error("ptserve_test_throw_ops refuses to load"); }
};
Thrower thrower;

}  // namespace
