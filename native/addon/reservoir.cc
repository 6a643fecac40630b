// The addon's Reservoir class: one reservoir instance, computed by the built-in C core
// (native/core/reservoir.c) or by a HAL driver library (native/hal/spikecap_hal.h).
//
// JS API (agent/shared/native.ts describes it for TypeScript):
//   new Reservoir(model: ReservoirModel, driver?: { path: string; args?: string })
//   step(input: Uint8Array, features: Int16Array, samples: number): number  // spikes
//   getState(out: Uint8Array): void       // exactly 7N bytes
//   setState(state: Uint8Array): void     // exactly 7N bytes
//   reset(): void
//   capabilities(): { name, abiVersion, maxNeurons, maxInputs, maxFanout, maxSubsteps, kernel }
//                   kernel: sc_kernel() of the built-in core for this model, or "driver"
//   close(): void                         // idempotent; any other call afterwards: ECLOSED
//
// Errors are Error objects with a string `code`: EINVAL (TypeError or RangeError for a bad
// argument), ENOMODEL, ELIMIT, ENOMEM, ESTATE (RangeError for a state buffer of the wrong
// length), EIO, ETIMEDOUT, EFAULT (from enum sc_status), EDLOPEN, EABI, ECLOSED.
// No allocation in step, getState, setState or reset, except to build an error.
#include "reservoir_addon.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "spikecap_hal.h"

namespace spikecap {
namespace {

const char *StatusCode(int rc) {
  switch (rc) {
    case SC_EINVAL: return "EINVAL";
    case SC_ENOMODEL: return "ENOMODEL";
    case SC_ELIMIT: return "ELIMIT";
    case SC_ENOMEM: return "ENOMEM";
    case SC_ESTATE: return "ESTATE";
    case SC_EIO: return "EIO";
    case SC_ETIMEDOUT: return "ETIMEDOUT";
    case SC_EFAULT: return "EFAULT";
    default: return "EFAULT";  // a driver that breaks the ABI: treat as a device fault
  }
}

const char *StatusText(int rc) {
  switch (rc) {
    case SC_EINVAL: return "invalid argument or model";
    case SC_ENOMODEL: return "no model loaded";
    case SC_ELIMIT: return "model exceeds the limits";
    case SC_ENOMEM: return "out of memory";
    case SC_ESTATE: return "state buffer of the wrong length";
    case SC_EIO: return "cannot communicate with the device";
    case SC_ETIMEDOUT: return "device did not answer in time";
    case SC_EFAULT: return "device reported a fault";
    default: return "unknown status";
  }
}

enum class Kind { kError, kType, kRange };

void Throw(Napi::Env env, Kind kind, const char *code, const std::string &message) {
  Napi::Error err = kind == Kind::kType    ? Napi::TypeError::New(env, message)
                    : kind == Kind::kRange ? Napi::RangeError::New(env, message)
                                           : Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  err.ThrowAsJavaScriptException();
}

std::string Num(double v) {
  char buf[64];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%g", v);
  }
  return buf;
}

std::string Num(size_t v) { return std::to_string(v); }

// ---- the model, read from a JS ReservoirModel without copying ----------------------------------

// Reads model[name] as an integer in lo…hi. Throws and returns false otherwise.
bool GetInt(Napi::Env env, Napi::Object model, const char *name, uint32_t lo, uint32_t hi,
            uint32_t *out) {
  Napi::Value v = model.Get(name);
  if (env.IsExceptionPending()) return false;
  if (!v.IsNumber()) {
    Throw(env, Kind::kType, "EINVAL", std::string("model.") + name + " must be a number");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || d < lo || d > hi) {
    Throw(env, Kind::kRange, "EINVAL",
          std::string("model.") + name + ": " + Num(d) + " is not an integer in " + Num(double(lo)) +
              "…" + Num(double(hi)));
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

// model[name] (already read) as a typed array of `type` with exactly `length` elements. Runs no
// JS, so the data pointer stays valid until JS runs again.
bool GetArray(Napi::Env env, Napi::Value v, const char *name, napi_typedarray_type type,
              const char *type_name, size_t length, const char *length_expr, const void **out) {
  napi_typedarray_type t;
  size_t len = 0;
  void *data = nullptr;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, nullptr, nullptr) != napi_ok || t != type) {
    Throw(env, Kind::kType, "EINVAL", std::string("model.") + name + " must be an " + type_name);
    return false;
  }
  if (len != length) {
    Throw(env, Kind::kRange, "EINVAL",
          std::string("model.") + name + " has " + Num(len) + " elements, must have " +
              length_expr + " = " + Num(length));
    return false;
  }
  *out = data;
  return true;
}

// The model's fields as an sc_model whose arrays point into the JS typed arrays, checked with
// messages that say what is wrong. Throws and returns false. Every property is read (which may
// run getters) before the first data pointer is taken, and the caller runs no JS until it is
// done with the pointers, so no getter can detach a buffer under them.
bool ReadModel(Napi::Env env, Napi::Value value, sc_model *m) {
  if (!value.IsObject()) {
    Throw(env, Kind::kType, "EINVAL", "model must be a ReservoirModel object");
    return false;
  }
  Napi::Object o = value.As<Napi::Object>();
  std::memset(m, 0, sizeof *m);
  if (!GetInt(env, o, "neurons", 2, SC_MAX_NEURONS, &m->neurons) ||
      !GetInt(env, o, "inputs", 1, SC_MAX_INPUTS, &m->inputs) ||
      !GetInt(env, o, "fanout", 1, SC_MAX_FANOUT, &m->fanout) ||
      !GetInt(env, o, "substeps", 1, SC_MAX_SUBSTEPS, &m->substeps) ||
      !GetInt(env, o, "weightShiftIn", 0, SC_MAX_WEIGHT_SHIFT, &m->weight_shift_in) ||
      !GetInt(env, o, "weightShiftRec", 0, SC_MAX_WEIGHT_SHIFT, &m->weight_shift_rec) ||
      !GetInt(env, o, "traceDash", 0, SC_MAX_DASH, &m->trace_dash) ||
      !GetInt(env, o, "traceShift", 0, SC_MAX_TRACE_SHIFT, &m->trace_shift)) {
    return false;
  }
  const size_t n = m->neurons, in_syn = size_t(m->inputs) * m->fanout, rec_syn = n * m->fanout;
  if (m->fanout > m->neurons) {
    Throw(env, Kind::kRange, "EINVAL",
          "model.fanout: " + Num(double(m->fanout)) + " exceeds model.neurons = " + Num(n));
    return false;
  }
  static const char *const kArrays[8] = {"threshold", "bias",      "dashSyn",   "dashMem",
                                         "inTarget",  "inWeight",  "recTarget", "recWeight"};
  Napi::Value v[8];
  for (int k = 0; k < 8; k++) {
    v[k] = o.Get(kArrays[k]);
    if (env.IsExceptionPending()) return false;
  }
  const void *threshold, *bias, *dash_syn, *dash_mem, *in_target, *in_weight, *rec_target,
      *rec_weight;
  if (!GetArray(env, v[0], "threshold", napi_int16_array, "Int16Array", n, "N", &threshold) ||
      !GetArray(env, v[1], "bias", napi_int16_array, "Int16Array", n, "N", &bias) ||
      !GetArray(env, v[2], "dashSyn", napi_uint8_array, "Uint8Array", n, "N", &dash_syn) ||
      !GetArray(env, v[3], "dashMem", napi_uint8_array, "Uint8Array", n, "N", &dash_mem) ||
      !GetArray(env, v[4], "inTarget", napi_uint16_array, "Uint16Array", in_syn, "I·F", &in_target) ||
      !GetArray(env, v[5], "inWeight", napi_int8_array, "Int8Array", in_syn, "I·F", &in_weight) ||
      !GetArray(env, v[6], "recTarget", napi_uint16_array, "Uint16Array", rec_syn, "N·F",
                &rec_target) ||
      !GetArray(env, v[7], "recWeight", napi_int8_array, "Int8Array", rec_syn, "N·F", &rec_weight)) {
    return false;
  }
  m->threshold = static_cast<const int16_t *>(threshold);
  m->bias = static_cast<const int16_t *>(bias);
  m->dash_syn = static_cast<const uint8_t *>(dash_syn);
  m->dash_mem = static_cast<const uint8_t *>(dash_mem);
  m->in_target = static_cast<const uint16_t *>(in_target);
  m->in_weight = static_cast<const int8_t *>(in_weight);
  m->rec_target = static_cast<const uint16_t *>(rec_target);
  m->rec_weight = static_cast<const int8_t *>(rec_weight);

  for (size_t i = 0; i < n; i++) {
    if (m->threshold[i] < 1) {
      Throw(env, Kind::kRange, "EINVAL",
            "model.threshold[" + Num(i) + "]: " + Num(double(m->threshold[i])) +
                " is out of range 1…32767");
      return false;
    }
    if (m->dash_syn[i] > SC_MAX_DASH || m->dash_mem[i] > SC_MAX_DASH) {
      bool syn = m->dash_syn[i] > SC_MAX_DASH;
      Throw(env, Kind::kRange, "EINVAL",
            std::string(syn ? "model.dashSyn[" : "model.dashMem[") + Num(i) + "]: " +
                Num(double(syn ? m->dash_syn[i] : m->dash_mem[i])) + " is out of range 0…15");
      return false;
    }
  }
  // Targets in range and distinct within each row: a stamp per neuron, O(rows × F).
  std::vector<uint32_t> stamp(n, 0);
  uint32_t mark = 0;
  const struct {
    const char *name, *source;
    const uint16_t *target;
    size_t rows;
  } matrices[2] = {{"inTarget", "input channel", m->in_target, m->inputs},
                   {"recTarget", "neuron", m->rec_target, n}};
  for (const auto &mx : matrices) {
    for (size_t r = 0; r < mx.rows; r++) {
      mark++;
      for (size_t k = 0; k < m->fanout; k++) {
        size_t e = r * m->fanout + k;
        uint16_t t = mx.target[e];
        if (t >= n) {
          Throw(env, Kind::kRange, "EINVAL",
                std::string("model.") + mx.name + "[" + Num(e) + "]: target " + Num(double(t)) +
                    " out of range 0…" + Num(n - 1));
          return false;
        }
        if (stamp[t] == mark) {
          Throw(env, Kind::kRange, "EINVAL",
                std::string("model.") + mx.name + "[" + Num(e) + "]: target " + Num(double(t)) +
                    " appears twice in row " + Num(r) + " (the targets of " + mx.source + " " +
                    Num(r) + " must be distinct)");
          return false;
        }
        stamp[t] = mark;
      }
    }
  }
  return true;
}

// The driver option { path: string; args?: string }.
bool ReadDriver(Napi::Env env, Napi::Value driver, std::string *path, std::string *args,
                bool *has_args) {
  if (!driver.IsObject()) {
    Throw(env, Kind::kType, "EINVAL", "driver must be an object { path: string; args?: string }");
    return false;
  }
  Napi::Object d = driver.As<Napi::Object>();
  Napi::Value path_v = d.Get("path");
  if (env.IsExceptionPending()) return false;
  Napi::Value args_v = d.Get("args");
  if (env.IsExceptionPending()) return false;
  if (!path_v.IsString()) {
    Throw(env, Kind::kType, "EINVAL", "driver.path must be a string");
    return false;
  }
  if (!args_v.IsUndefined() && !args_v.IsString()) {
    Throw(env, Kind::kType, "EINVAL", "driver.args must be a string or undefined");
    return false;
  }
  *path = path_v.As<Napi::String>().Utf8Value();
  *has_args = args_v.IsString();
  if (*has_args) *args = args_v.As<Napi::String>().Utf8Value();
  return true;
}

// ---- the class ----------------------------------------------------------------------------------

class Reservoir : public Napi::ObjectWrap<Reservoir> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Reservoir",
                       {InstanceMethod<&Reservoir::Step>("step"),
                        InstanceMethod<&Reservoir::GetState>("getState"),
                        InstanceMethod<&Reservoir::SetState>("setState"),
                        InstanceMethod<&Reservoir::Reset>("reset"),
                        InstanceMethod<&Reservoir::Capabilities>("capabilities"),
                        InstanceMethod<&Reservoir::Close>("close")});
  }

  explicit Reservoir(const Napi::CallbackInfo &info);
  ~Reservoir() override { Release(); }

  Reservoir(const Reservoir &) = delete;
  Reservoir &operator=(const Reservoir &) = delete;

 private:
  Napi::Value Step(const Napi::CallbackInfo &info);
  Napi::Value GetState(const Napi::CallbackInfo &info);
  Napi::Value SetState(const Napi::CallbackInfo &info);
  Napi::Value Reset(const Napi::CallbackInfo &info);
  Napi::Value Capabilities(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);

  bool OpenBuiltin(Napi::Env env, const sc_model &model);
  bool OpenDriver(Napi::Env env, const sc_model &model, const std::string &path,
                  const char *args);
  // Throws the error of a driver op; returns undefined for the caller to return.
  Napi::Value DriverError(Napi::Env env, const char *op, int rc);
  bool CheckOpen(Napi::Env env);
  // A Uint8Array of exactly 7N bytes (the state encoding), or throws.
  bool StateBuffer(Napi::Env env, const Napi::CallbackInfo &info, const char *what, uint8_t **out);
  void Release();

  napi_env env_;
  bool closed_ = false;
  uint32_t neurons_ = 0, inputs_ = 0, substeps_ = 0;
  sc_hal_caps caps_{};

  // Built-in core: the model copied into model_mem_, the workspace, the instance.
  void *model_mem_ = nullptr;
  void *workspace_ = nullptr;
  int64_t external_bytes_ = 0;
  sc_model model_{};
  sc_reservoir core_{};

  // Driver: the library, its ops, the device.
  void *lib_ = nullptr;
  const sc_hal_ops *ops_ = nullptr;
  void *dev_ = nullptr;
  std::string driver_label_;
};

Reservoir::Reservoir(const Napi::CallbackInfo &info)
    : Napi::ObjectWrap<Reservoir>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  // The driver's options first: reading them may run JS, which must not happen once ReadModel
  // holds pointers into the model's typed arrays.
  Napi::Value driver = info[1];
  const bool use_driver = !driver.IsUndefined() && !driver.IsNull();
  std::string path, args;
  bool has_args = false;
  if (use_driver && !ReadDriver(env, driver, &path, &args, &has_args)) return;
  sc_model model;
  if (!ReadModel(env, info[0], &model)) return;
  neurons_ = model.neurons;
  inputs_ = model.inputs;
  substeps_ = model.substeps;
  if (use_driver) {
    OpenDriver(env, model, path, has_args ? args.c_str() : nullptr);
  } else {
    OpenBuiltin(env, model);
  }
}

bool Reservoir::OpenBuiltin(Napi::Env env, const sc_model &m) {
  const size_t n = m.neurons, in_syn = size_t(m.inputs) * m.fanout, rec_syn = n * m.fanout;
  // 16-bit arrays first, then bytes: each array naturally aligned in one block.
  const size_t bytes = 2 * n + 2 * n + 2 * in_syn + 2 * rec_syn + n + n + in_syn + rec_syn;
  const size_t wbytes = sc_workspace_bytes(&m);
  model_mem_ = std::malloc(bytes);
  workspace_ = std::malloc(wbytes);
  if (model_mem_ == nullptr || workspace_ == nullptr) {
    Throw(env, Kind::kError, "ENOMEM",
          "cannot allocate " + Num(bytes + wbytes) + " bytes for the reservoir");
    return false;
  }
  model_ = m;
  unsigned char *p = static_cast<unsigned char *>(model_mem_);
  auto copy = [&p](const void *src, size_t len) {
    std::memcpy(p, src, len);
    void *at = p;
    p += len;
    return at;
  };
  model_.threshold = static_cast<const int16_t *>(copy(m.threshold, 2 * n));
  model_.bias = static_cast<const int16_t *>(copy(m.bias, 2 * n));
  model_.in_target = static_cast<const uint16_t *>(copy(m.in_target, 2 * in_syn));
  model_.rec_target = static_cast<const uint16_t *>(copy(m.rec_target, 2 * rec_syn));
  model_.dash_syn = static_cast<const uint8_t *>(copy(m.dash_syn, n));
  model_.dash_mem = static_cast<const uint8_t *>(copy(m.dash_mem, n));
  model_.in_weight = static_cast<const int8_t *>(copy(m.in_weight, in_syn));
  model_.rec_weight = static_cast<const int8_t *>(copy(m.rec_weight, rec_syn));
  // ReadModel checked everything already; the core checks again (sc_init runs sc_model_check).
  int rc = sc_init(&core_, &model_, workspace_, wbytes);
  if (rc != SC_OK) {
    Throw(env, Kind::kError, StatusCode(rc), std::string("reservoir core: ") + StatusText(rc));
    return false;
  }
  external_bytes_ = int64_t(bytes + wbytes);
  Napi::MemoryManagement::AdjustExternalMemory(env, external_bytes_);

  caps_.abi_version = SC_HAL_ABI_VERSION;
  std::snprintf(caps_.name, sizeof caps_.name, "%s", "spikecap-core");
  caps_.max_neurons = SC_MAX_NEURONS;
  caps_.max_inputs = SC_MAX_INPUTS;
  caps_.max_fanout = SC_MAX_FANOUT;
  caps_.max_substeps = SC_MAX_SUBSTEPS;
  return true;
}

bool Reservoir::OpenDriver(Napi::Env env, const sc_model &m, const std::string &path,
                           const char *args) {
  driver_label_ = "driver " + path;

  dlerror();
  lib_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib_ == nullptr) {
    const char *why = dlerror();
    Throw(env, Kind::kError, "EDLOPEN",
          "cannot load driver " + path + ": " + (why != nullptr ? why : "unknown dlopen error"));
    return false;
  }
  void *sym = dlsym(lib_, SC_HAL_ENTRY_SYMBOL);
  if (sym == nullptr) {
    Throw(env, Kind::kError, "EABI", "driver " + path + " does not export " SC_HAL_ENTRY_SYMBOL);
    return false;
  }
  sc_hal_entry_fn entry;
  static_assert(sizeof entry == sizeof sym, "function and object pointers differ in size");
  std::memcpy(&entry, &sym, sizeof entry);
  const sc_hal_ops *ops = entry(SC_HAL_ABI_VERSION);
  if (ops == nullptr || ops->abi_version != SC_HAL_ABI_VERSION) {
    Throw(env, Kind::kError, "EABI",
          "driver " + path + " does not speak spikecap HAL ABI version " +
              Num(double(SC_HAL_ABI_VERSION)));
    return false;
  }
  if (!ops->open || !ops->capabilities || !ops->load || !ops->step || !ops->get_state ||
      !ops->set_state || !ops->reset || !ops->close || !ops->strerror) {
    Throw(env, Kind::kError, "EABI", "driver " + path + ": the ops table has a NULL entry");
    return false;
  }
  ops_ = ops;

  void *dev = nullptr;
  int rc = ops_->open(args, &dev);
  if (rc != SC_OK) {
    DriverError(env, "open", rc);
    return false;
  }
  dev_ = dev;
  rc = ops_->capabilities(dev_, &caps_);
  if (rc != SC_OK) {
    DriverError(env, "capabilities", rc);
    return false;
  }
  caps_.name[sizeof caps_.name - 1] = '\0';
  driver_label_ = std::string("driver '") + caps_.name + "' (" + path + ")";
  if (caps_.abi_version != SC_HAL_ABI_VERSION) {
    Throw(env, Kind::kError, "EABI",
          driver_label_ + " reports ABI version " + Num(double(caps_.abi_version)) + ", expected " +
              Num(double(SC_HAL_ABI_VERSION)));
    return false;
  }
  const struct {
    const char *name;
    uint32_t value, limit;
  } limits[4] = {{"neurons", m.neurons, caps_.max_neurons},
                 {"inputs", m.inputs, caps_.max_inputs},
                 {"fanout", m.fanout, caps_.max_fanout},
                 {"substeps", m.substeps, caps_.max_substeps}};
  for (const auto &l : limits) {
    if (l.value > l.limit) {
      Throw(env, Kind::kError, "ELIMIT",
            std::string("model.") + l.name + " = " + Num(double(l.value)) + " exceeds the limit " +
                Num(double(l.limit)) + " of " + driver_label_);
      return false;
    }
  }
  rc = ops_->load(dev_, &m);
  if (rc != SC_OK) {
    DriverError(env, "load", rc);
    return false;
  }
  return true;
}

Napi::Value Reservoir::DriverError(Napi::Env env, const char *op, int rc) {
  const char *text = ops_ != nullptr ? ops_->strerror(rc) : nullptr;
  std::string message = driver_label_ + ": " + op + ": " + (text != nullptr ? text : StatusText(rc));
  if (std::strcmp(StatusCode(rc), "EFAULT") == 0 && rc != SC_EFAULT) {
    message += " (unknown status " + Num(double(rc)) + ")";
  }
  Throw(env, Kind::kError, StatusCode(rc), message);
  return env.Undefined();
}

void Reservoir::Release() {
  if (dev_ != nullptr) {
    ops_->close(dev_);
    dev_ = nullptr;
  }
  ops_ = nullptr;
  if (lib_ != nullptr) {
    dlclose(lib_);
    lib_ = nullptr;
  }
  std::free(model_mem_);
  std::free(workspace_);
  model_mem_ = nullptr;
  workspace_ = nullptr;
  if (external_bytes_ != 0) {
    int64_t total;
    napi_adjust_external_memory(env_, -external_bytes_, &total);
    external_bytes_ = 0;
  }
}

bool Reservoir::CheckOpen(Napi::Env env) {
  if (!closed_) return true;
  Throw(env, Kind::kError, "ECLOSED", "the reservoir is closed");
  return false;
}

Napi::Value Reservoir::Step(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  // Raw napi calls: no handle objects, no allocation on the success path.
  napi_typedarray_type type;
  size_t in_len = 0, feat_len = 0;
  void *in_data = nullptr, *feat_data = nullptr;
  if (napi_get_typedarray_info(env, info[0], &type, &in_len, &in_data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array) {
    Throw(env, Kind::kType, "EINVAL", "step: input must be a Uint8Array");
    return env.Undefined();
  }
  if (napi_get_typedarray_info(env, info[1], &type, &feat_len, &feat_data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_int16_array) {
    Throw(env, Kind::kType, "EINVAL", "step: features must be an Int16Array");
    return env.Undefined();
  }
  double samples_d;
  if (napi_get_value_double(env, info[2], &samples_d) != napi_ok) {
    Throw(env, Kind::kType, "EINVAL", "step: samples must be a number");
    return env.Undefined();
  }
  if (!(samples_d >= 0 && samples_d <= 4294967295.0 && samples_d == std::floor(samples_d))) {
    Throw(env, Kind::kRange, "EINVAL",
          "step: samples must be an integer in 0…4294967295, got " + Num(samples_d));
    return env.Undefined();
  }
  const uint64_t samples = uint64_t(samples_d);
  const uint64_t in_per = uint64_t(substeps_) * inputs_, feat_per = 2 * uint64_t(neurons_);
  if (in_len < samples * in_per) {
    Throw(env, Kind::kRange, "EINVAL",
          "step: input has " + Num(in_len) + " elements, needs samples·S·I = " +
              Num(double(samples * in_per)));
    return env.Undefined();
  }
  if (feat_len < samples * feat_per) {
    Throw(env, Kind::kRange, "EINVAL",
          "step: features has " + Num(feat_len) + " elements, needs samples·2N = " +
              Num(double(samples * feat_per)));
    return env.Undefined();
  }
  // sc_step and the HAL count spikes in a uint32: keep samples·N·S below 2^32 per call.
  const uint64_t chunk_max = 0xFFFFFFFFull / (uint64_t(neurons_) * substeps_);
  const uint8_t *in = static_cast<const uint8_t *>(in_data);
  int16_t *feat = static_cast<int16_t *>(feat_data);
  uint64_t total = 0;
  for (uint64_t done = 0; done < samples;) {
    const uint32_t chunk = uint32_t(samples - done < chunk_max ? samples - done : chunk_max);
    if (ops_ == nullptr) {
      total += sc_step(&core_, in, feat, chunk);
    } else {
      uint32_t spikes = 0;
      int rc = ops_->step(dev_, in, feat, chunk, &spikes);
      if (rc != SC_OK) return DriverError(env, "step", rc);
      total += spikes;
    }
    done += chunk;
    in += chunk * in_per;
    feat += chunk * feat_per;
  }
  napi_value result;
  napi_create_double(env, double(total), &result);
  return Napi::Value(env, result);
}

bool Reservoir::StateBuffer(Napi::Env env, const Napi::CallbackInfo &info, const char *what,
                            uint8_t **out) {
  napi_typedarray_type type;
  size_t len = 0;
  void *data = nullptr;
  if (napi_get_typedarray_info(env, info[0], &type, &len, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    Throw(env, Kind::kType, "EINVAL", std::string(what) + " must be a Uint8Array");
    return false;
  }
  const size_t need = size_t(7) * neurons_;
  if (len != need) {
    Throw(env, Kind::kRange, "ESTATE",
          std::string(what) + " has " + Num(len) + " bytes, the state is exactly 7·N = " + Num(need));
    return false;
  }
  *out = static_cast<uint8_t *>(data);
  return true;
}

Napi::Value Reservoir::GetState(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *buf;
  if (!CheckOpen(env) || !StateBuffer(env, info, "getState: out", &buf)) return env.Undefined();
  int rc = ops_ == nullptr ? sc_get_state(&core_, buf, size_t(7) * neurons_)
                           : ops_->get_state(dev_, buf, size_t(7) * neurons_);
  if (rc != SC_OK) {
    if (ops_ != nullptr) return DriverError(env, "get_state", rc);
    Throw(env, Kind::kError, StatusCode(rc), std::string("getState: ") + StatusText(rc));
  }
  return env.Undefined();
}

Napi::Value Reservoir::SetState(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *buf;
  if (!CheckOpen(env) || !StateBuffer(env, info, "setState: state", &buf)) return env.Undefined();
  int rc = ops_ == nullptr ? sc_set_state(&core_, buf, size_t(7) * neurons_)
                           : ops_->set_state(dev_, buf, size_t(7) * neurons_);
  if (rc != SC_OK) {
    if (ops_ != nullptr) return DriverError(env, "set_state", rc);
    Throw(env, Kind::kError, StatusCode(rc), std::string("setState: ") + StatusText(rc));
  }
  return env.Undefined();
}

Napi::Value Reservoir::Reset(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (ops_ == nullptr) {
    sc_reset(&core_);
  } else {
    int rc = ops_->reset(dev_);
    if (rc != SC_OK) return DriverError(env, "reset", rc);
  }
  return env.Undefined();
}

Napi::Value Reservoir::Capabilities(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", Napi::String::New(env, caps_.name));
  o.Set("abiVersion", Napi::Number::New(env, caps_.abi_version));
  o.Set("maxNeurons", Napi::Number::New(env, caps_.max_neurons));
  o.Set("maxInputs", Napi::Number::New(env, caps_.max_inputs));
  o.Set("maxFanout", Napi::Number::New(env, caps_.max_fanout));
  o.Set("maxSubsteps", Napi::Number::New(env, caps_.max_substeps));
  o.Set("kernel", Napi::String::New(env, ops_ == nullptr ? sc_kernel(&core_) : "driver"));
  return o;
}

Napi::Value Reservoir::Close(const Napi::CallbackInfo &info) {
  Release();
  closed_ = true;
  return info.Env().Undefined();
}

}  // namespace

Napi::Function DefineReservoir(Napi::Env env) { return Reservoir::Define(env); }

}  // namespace spikecap
