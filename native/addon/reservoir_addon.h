// The addon's Reservoir class (reservoir.cc): the C core in-process, or a HAL driver.
#ifndef SPIKECAP_RESERVOIR_ADDON_H
#define SPIKECAP_RESERVOIR_ADDON_H

#include <napi.h>

namespace spikecap {

// The constructor `Reservoir(model, driver?)`; addon.cc exports it.
Napi::Function DefineReservoir(Napi::Env env);

}  // namespace spikecap

#endif
