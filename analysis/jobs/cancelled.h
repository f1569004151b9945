// The one cancellation of the program. Long work polls a stop condition (a
// job's CancelToken, a progress callback returning false, a trainer's stop
// flag) and throws Cancelled; whoever started the work catches it and
// reports nothing, since the user (or a newer request) asked for the stop.
#pragma once

#include <stdexcept>

namespace hs::jobs {

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace hs::jobs
