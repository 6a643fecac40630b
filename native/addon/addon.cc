// spikecap's native addon: sd_notify (Node has no unix datagram sockets) and the Reservoir class
// (reservoir.cc: the C core of native/core, or a HAL driver of native/hal).
// Errors reach JavaScript as Error objects with a string `code` (no C++ exceptions).
#include <napi.h>

#include <cstring>
#include <string>

#include "reservoir_addon.h"
#include "sd_notify.h"

namespace {

Napi::Value SdNotify(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsString()) {
    Napi::TypeError::New(env, "sdNotify(socketPath: string, message: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string msg = info[1].As<Napi::String>().Utf8Value();
  int rc = spikecap_sd_notify(path.c_str(), msg.data(), msg.size());
  if (rc != 0) {
    Napi::Error err = Napi::Error::New(env, std::string("sd_notify to ") + path + ": " + std::strerror(-rc));
    err.Set("code", Napi::String::New(env, "ESDNOTIFY"));
    err.Set("errno", Napi::Number::New(env, -rc));
    err.ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
  exports.Set("Reservoir", spikecap::DefineReservoir(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(spikecap_native, Init)
