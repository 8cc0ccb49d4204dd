// Limits every request decoder enforces before allocating anything.
#ifndef PTSERVE_PROTOCOL_DECODE_LIMITS_H_
#define PTSERVE_PROTOCOL_DECODE_LIMITS_H_

#include <cstdint>

namespace ptserve {

struct DecodeLimits {
  // Most elements one input tensor may have (product of its shape).
  int64_t max_elements = int64_t{1} << 28;
};

}  // namespace ptserve

#endif  // PTSERVE_PROTOCOL_DECODE_LIMITS_H_
